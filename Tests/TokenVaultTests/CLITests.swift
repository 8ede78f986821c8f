import Foundation
import Testing
@testable import VaultCore

/// The `tokenvault` binary, run as an operator would.
@Suite struct CLITests {
    static let binary = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/tokenvault").path

    func run(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.environment = environment.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("serve refuses to start without a master key, or with a malformed one, and says why")
    func serveNeedsAMasterKey() throws {
        let url = try TestDatabase.make()
        let missing = try run(["serve"], environment: ["TOKENVAULT_DATABASE_URL": url, "TOKENVAULT_LISTEN": "127.0.0.1:0"])
        #expect(missing.status == 1)
        #expect(missing.output.contains("no master key"))
        let malformed = try run(["serve"], environment: ["TOKENVAULT_DATABASE_URL": url, "TOKENVAULT_MASTER_KEYS": "k1:tooshort"])
        #expect(malformed.status == 1)
        #expect(malformed.output.contains("must be exactly 32 bytes"))
        let noDatabase = try run(["serve"], environment: ["TOKENVAULT_MASTER_KEYS": MasterKeyRing.generateEntry(id: "k")])
        #expect(noDatabase.output.contains("TOKENVAULT_DATABASE_URL is not set"))
    }

    @Test("migrate, api-keys create/list/revoke, keys generate/rotate and check work from the command line")
    func operatorCommands() throws {
        let url = try TestDatabase.makeEmpty()
        let first = MasterKeyRing.generateEntry(id: "one")
        var environment = ["TOKENVAULT_DATABASE_URL": url, "TOKENVAULT_MASTER_KEYS": first]
        #expect(try run(["migrate"], environment: environment).output.contains("applied migration(s) 1"))
        #expect(try run(["migrate"], environment: environment).output.contains("schema is current"))
        let created = try run(["api-keys", "create", "--role", "admin", "--name", "ops"], environment: environment)
        #expect(created.status == 0)
        let key = created.output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(APIKeyFormat.prefix(of: key) != nil)
        let listed = try run(["api-keys", "list"], environment: environment)
        #expect(listed.output.contains(String(key.prefix(14))))
        #expect(!listed.output.contains(String(key.dropFirst(15))))
        let id = listed.output.split(separator: "\n")[1].split(separator: "\t")[0]
        #expect(try run(["api-keys", "revoke", String(id)], environment: environment).status == 0)
        #expect(try run(["api-keys", "create", "--role", "boss", "--name", "x"], environment: environment).status == 2)

        let generated = try run(["keys", "generate", "--id", "two"], environment: [:])
        #expect(generated.output.hasPrefix("two:"))
        environment["TOKENVAULT_MASTER_KEYS"] = first + "," + generated.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let rotated = try run(["keys", "rotate"], environment: environment)
        #expect(rotated.status == 0, "\(rotated.output)")
        #expect(rotated.output.contains("re-wrapped under master key two"))
        environment["TOKENVAULT_MASTER_KEYS"] = generated.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let check = try run(["check"], environment: environment)
        #expect(check.status == 0, "\(check.output)")
        #expect(try run(["nonsense"], environment: environment).status == 2)
    }
}

extension CLITests {
    @Test("serve answers /readyz and stops cleanly on SIGTERM")
    func serveStopsOnSIGTERM() throws {
        let url = try TestDatabase.make()
        let port = 20000 + Int.random(in: 0..<20000)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve"]
        process.environment = ["TOKENVAULT_DATABASE_URL": url, "TOKENVAULT_MASTER_KEYS": MasterKeyRing.generateEntry(id: "k"),
                               "TOKENVAULT_LISTEN": "127.0.0.1:\(port)"]
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        let client = HTTPClient()
        var ready = false
        for _ in 0..<300 where !ready {
            ready = (try? client.send(HTTPClientRequest(url: "http://127.0.0.1:\(port)/readyz", timeout: .seconds(1))))?.status == 200
            if !ready { Thread.sleep(forTimeInterval: 0.02) }
        }
        #expect(ready)
        process.terminate()  // SIGTERM
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("\"msg\":\"stopping\"") && output.contains("\"signal\":\"SIGTERM\""))
        #expect(output.split(separator: "\n").allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") }, "every log line is one JSON object")
    }
}

import HTTPClient
