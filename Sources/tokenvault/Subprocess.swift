import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Child processes, through `posix_spawn`. Children get an empty signal mask: ours blocks SIGINT and SIGTERM for
/// `sigwait`, and a daemon must not inherit that.
enum Subprocess {
    /// Runs a program and waits for it; its output goes to a temporary file (a pipe could be held open by a daemon
    /// it starts).
    static func run(_ program: String, _ arguments: [String]) throws(CLIError) -> (Int32, String) {
        let outputPath = NSTemporaryDirectory() + "tokenvault-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).out"
        defer { unlink(outputPath) }
        let pid = try spawn(program, arguments, outputPath: outputPath)
        let status = wait(pid)
        return (status, (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")
    }

    /// Starts a program; its output goes to `outputPath`, or to ours when nil.
    static func spawn(_ program: String, _ arguments: [String], outputPath: String?) throws(CLIError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let outputPath {
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, program, &actions, &attributes, argv, environ)
        guard spawned == 0 else { throw CLIError("cannot run \(program): \(String(cString: strerror(spawned)))", usage: false) }
        return pid
    }

    /// Waits for a child; returns its exit status (128 + signal when killed).
    @discardableResult
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// The folder of the running executable (where `entra-sim` is built beside `tokenvault`).
    static var executableDirectory: String {
        let path = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (path as NSString).deletingLastPathComponent
    }
}
