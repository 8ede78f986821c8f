import EntraSimulator
import Foundation
#if canImport(Glibc)
import Glibc
#endif

// entra-sim [--http HOST:PORT] [--smtp PORT] [--seed-demo] [--write-config FILE]
// Runs EntraSimulator until SIGINT or SIGTERM. With --seed-demo it seeds a demo tenant, app and accounts, and with
// --write-config writes what it seeded (simulator.json) once it listens. Loopback only: its /_sim/ API is unauthenticated.
var signals = sigset_t()
sigemptyset(&signals)
sigaddset(&signals, SIGINT)
sigaddset(&signals, SIGTERM)
pthread_sigmask(SIG_BLOCK, &signals, nil)

let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, in arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> String? {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}
let listen = (option("--http") ?? "127.0.0.1:0").split(separator: ":")
guard listen.count == 2, let httpPort = Int(listen[1]) else {
    FileHandle.standardError.write(Data("entra-sim: --http must be HOST:PORT\n".utf8))
    exit(2)
}
let simulator = EntraSimulator(configuration: .init(host: String(listen[0]), httpPort: httpPort, smtpPort: Int(option("--smtp") ?? "0") ?? 0))
do {
    try simulator.start()
} catch {
    FileHandle.standardError.write(Data("entra-sim: \(error)\n".utf8))
    exit(1)
}
var summary = "EntraSimulator: authority \(simulator.authorityURL), SMTP \(simulator.smtpHost):\(simulator.smtpPort)"
if arguments.contains("--seed-demo") {
    let seed = simulator.seedDemo()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let json = try! encoder.encode(seed)
    if let path = option("--write-config") {
        let temporary = path + ".tmp"
        _ = FileManager.default.createFile(atPath: temporary, contents: json, attributes: [.posixPermissions: 0o600])
        _ = rename(temporary, path)
    } else {
        print(String(decoding: json, as: UTF8.self))
    }
    summary += ", demo tenant \(seed.tenantID), app \(seed.clientID)"
}
FileHandle.standardError.write(Data((summary + "\n").utf8))
var received: Int32 = 0
sigwait(&signals, &received)
simulator.stop()
