import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster in a folder of the project, for `tokenvault dev` and the tests.
///
/// PostgreSQL refuses to run as root: when we are root, the cluster's folders belong to the `postgres` user and
/// `initdb`/`pg_ctl` run through `runuser`. The cluster listens on a unix socket and on a free loopback port, with
/// `trust` authentication (loopback only: a development cluster, never a production one).
struct DevPostgres {
    let dataDirectory: String
    let clusterDirectory: String
    let socketDirectory: String
    let logFile: String
    let binDirectory: String
    let runAsPostgres: Bool

    /// Prepares paths (nothing starts yet).
    init(dataDirectory: String) throws(CLIError) {
        self.dataDirectory = dataDirectory
        runAsPostgres = getuid() == 0
        guard let bin = DevPostgres.findBinaries() else {
            throw CLIError("PostgreSQL server binaries (initdb, pg_ctl) were not found; install the postgresql package (scripts/dev does)", usage: false)
        }
        binDirectory = bin
        // The postgres user must be able to reach the cluster and its log, and a socket path must stay under 108 bytes.
        let reachable = !runAsPostgres || DevPostgres.postgresCanReach(dataDirectory)
        let fallback = "/var/tmp/tokenvault-dev-" + String(dataDirectory.hashValueStable, radix: 36)
        let home = reachable ? dataDirectory : fallback
        clusterDirectory = home + "/postgres"
        logFile = home + "/postgres.log"
        socketDirectory = (home + "/run").utf8.count > 80 ? fallback + "/run" : home + "/run"
    }

    /// The connection string of a database in the cluster (over the unix socket).
    func connectionString(database: String, port: Int) -> String {
        "host=\(socketDirectory) port=\(port) user=postgres dbname=\(database)"
    }

    /// Starts the cluster (creating it on first use) unless it already runs; returns its port and whether we started it.
    func start() throws(CLIError) -> (port: Int, started: Bool) {
        try makeDirectory(dataDirectory, mode: 0o711, forPostgres: false)
        try makeDirectory(socketDirectory, mode: 0o700, forPostgres: true)
        if !FileManager.default.fileExists(atPath: clusterDirectory + "/PG_VERSION") {
            try makeDirectory(clusterDirectory, mode: 0o700, forPostgres: true)
            try run(binDirectory + "/initdb", ["-D", clusterDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                                               "--locale=C.UTF-8", "--no-sync"], what: "initdb")
        }
        if let port = runningPort() { return (port, false) }
        let port = try DevPostgres.freePort()
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        if runAsPostgres { _ = try? Subprocess.run("/bin/chown", ["postgres", logFile]) }
        try run(binDirectory + "/pg_ctl", ["-D", clusterDirectory, "-l", logFile, "-w", "-t", "60", "-o",
                                          "-p \(port) -k \(socketDirectory) -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c full_page_writes=off",
                                          "start"], what: "pg_ctl start")
        return (port, true)
    }

    /// Stops the cluster (fast shutdown).
    func stop() {
        _ = try? run(binDirectory + "/pg_ctl", ["-D", clusterDirectory, "-m", "fast", "-w", "stop"], what: "pg_ctl stop")
    }

    /// The port of a running cluster, from `postmaster.pid`, or nil.
    func runningPort() -> Int? {
        guard (try? run(binDirectory + "/pg_ctl", ["-D", clusterDirectory, "status"], what: "pg_ctl status")) != nil,
              let pid = try? String(contentsOfFile: clusterDirectory + "/postmaster.pid", encoding: .utf8) else { return nil }
        let lines = pid.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.count > 3 ? Int(lines[3]) : nil
    }

    private func run(_ program: String, _ arguments: [String], what: String) throws(CLIError) {
        let (status, output) = try Subprocess.run(runAsPostgres ? "/usr/sbin/runuser" : program,
                                                runAsPostgres ? ["-u", "postgres", "--", "/usr/bin/env", "-C", "/tmp", program] + arguments : arguments)
        guard status == 0 else { throw CLIError("\(what) failed (exit \(status)): \(output.suffix(2000))", usage: false) }
    }

    /// Creates a folder (and its parents, traversable by the postgres user: mode 711), gives it `mode`, and hands it
    /// to the postgres user when the cluster runs as that user.
    private func makeDirectory(_ path: String, mode: Int, forPostgres: Bool) throws(CLIError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        } catch {
            throw CLIError("cannot create \(path): \(error.localizedDescription)", usage: false)
        }
        chmod(path, mode_t(mode))
        if forPostgres && runAsPostgres {
            _ = try Subprocess.run("/bin/chown", ["-R", "postgres:postgres", path])
        }
    }

    static func findBinaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        for version in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/initdb") {
            return "\(root)/\(version)/bin"
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        where FileManager.default.isExecutableFile(atPath: "\(directory)/initdb") && FileManager.default.isExecutableFile(atPath: "\(directory)/pg_ctl") {
            return String(directory)
        }
        return nil
    }

    static func postgresCanReach(_ path: String) -> Bool {
        _ = try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        return ((try? Subprocess.run("/usr/sbin/runuser", ["-u", "postgres", "--", "test", "-x", path])).map { $0.0 == 0 }) ?? false
    }

    /// A free TCP port on loopback (bound, read, released).
    static func freePort() throws(CLIError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CLIError("cannot open a socket", usage: false) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CLIError("cannot find a free port", usage: false) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

extension String {
    /// A hash that is the same in every run (Swift's `hashValue` is seeded per process).
    var hashValueStable: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
