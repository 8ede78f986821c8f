import Foundation
import HTTPClient
import HTTPServer
import Logging
import Testing

/// The server, on its own, with a router whose handlers a test controls.
@Suite struct HTTPServerTests {
    struct Context: RequestContext {
        let requestID = RequestID.make()
        var route = "unmatched"
        var parameters: [String: String] = [:]
    }

    /// A gate that a handler waits at until the test opens it.
    final class Gate: @unchecked Sendable {
        private let condition = NSCondition()
        private var isOpen = false
        private var waiting = 0

        func pass() {
            condition.lock()
            waiting += 1
            condition.broadcast()
            while !isOpen { condition.wait() }
            condition.unlock()
        }

        func open() {
            condition.lock()
            isOpen = true
            condition.broadcast()
            condition.unlock()
        }

        func waitForArrivals(_ count: Int) {
            condition.lock()
            while waiting < count { condition.wait() }
            condition.unlock()
        }
    }

    func makeServer(gate: Gate, pollingThreads: Int = 1, workers: Int = 4, timeout: Int = 30) throws -> HTTPServer {
        var router = Router<Context>(makeContext: { _ in Context() }, errorResponse: { error, context in
            (error as? HTTPError ?? HTTPError(500, code: "internal_error", detail: "x")).response(requestID: context.requestID)
        })
        router.add("GET", "/slow") { _, _ in
            gate.pass()
            return .text("slow done")
        }
        router.add("GET", "/fast/{n}") { _, context in .text("fast \(context.parameters["n"]!)") }
        let configuration = HTTPServerConfiguration(host: "127.0.0.1", port: 0, pollingThreads: pollingThreads, workerThreads: workers,
                                                    connectionTimeoutSeconds: timeout)
        let server = HTTPServer(configuration: configuration, responder: router, logger: Logger(label: "test", sink: MemorySink()))
        try server.start()
        return server
    }

    @Test("a handler that blocks (a slow call to Microsoft) does not delay other requests, even with one polling thread")
    func slowHandlerDoesNotBlockOthers() throws {
        let gate = Gate()
        let server = try makeServer(gate: gate)
        defer { server.shutdown(gracePeriod: .seconds(2)) }
        let client = HTTPClient()
        let slowResult = Box<String>()
        let slow = Thread { slowResult.set((try? client.send(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/slow", timeout: .seconds(30))))?.text ?? "failed") }
        slow.start()
        gate.waitForArrivals(1)  // the slow handler is now blocked on a worker
        for n in 0..<50 {
            let response = try client.send(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/fast/\(n)"))
            #expect(response.text == "fast \(n)")
        }
        #expect(slowResult.get() == nil, "the slow request must still be waiting while the fast ones were answered")
        gate.open()
        while slowResult.get() == nil { Thread.sleep(forTimeInterval: 0.005) }
        #expect(slowResult.get() == "slow done")
    }

    @Test("connections are kept alive between requests")
    func keepAlive() throws {
        let server = try makeServer(gate: Gate())
        defer { server.shutdown() }
        let client = HTTPClient(maxIdleHandles: 1)
        for n in 0..<5 {
            let response = try client.send(HTTPClientRequest(url: "http://127.0.0.1:\(server.port)/fast/\(n)"))
            #expect(response.header("connection")?.lowercased() != "close")
        }
        #expect(server.openConnections == 1)
    }

    @Test("shutdown lets a request in progress finish and stops accepting new ones")
    func gracefulShutdown() throws {
        let gate = Gate()
        let server = try makeServer(gate: gate)
        let port = server.port
        let result = Box<String>()
        Thread { result.set((try? HTTPClient().send(HTTPClientRequest(url: "http://127.0.0.1:\(port)/slow")))?.text ?? "failed") }.start()
        gate.waitForArrivals(1)
        let stopped = Box<Bool>()
        Thread { server.shutdown(gracePeriod: .seconds(10)); stopped.set(true) }.start()
        while !server.isDraining { Thread.sleep(forTimeInterval: 0.005) }
        #expect(throws: HTTPClientError.self) { try HTTPClient().send(HTTPClientRequest(url: "http://127.0.0.1:\(port)/fast/1", timeout: .seconds(2))) }
        gate.open()
        while stopped.get() == nil { Thread.sleep(forTimeInterval: 0.005) }
        #expect(result.get() == "slow done")
    }

    @Test("a connection that sends nothing is closed after the connection timeout (slow-loris protection)")
    func idleConnectionsAreClosed() throws {
        let server = try makeServer(gate: Gate(), timeout: 1)
        defer { server.shutdown() }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(server.port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        _ = "GET /fast/1 HTTP/1.1\r\nHost: x\r\n".withCString { send(fd, $0, strlen($0), 0) }  // never finishes the headers
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 256)
        let received = recv(fd, &buffer, buffer.count, 0)
        #expect(received == 0, "the server should have closed the idle connection (recv returned \(received))")
    }

    @Test("the strict decoder names every field at fault and maps keys like the encoder")
    func strictDecoding() throws {
        struct Inner: Decodable { let expiresAt: Date }
        struct Outer: Decodable { let clientID: String; let items: [Inner]; let note: String? }
        let good = try JSONCoding.decodeStrict(Outer.self, from: Array(#"{"client_id":"a","items":[{"expires_at":"2027-01-01T00:00:00Z"}],"note":null}"#.utf8))
        #expect(good.clientID == "a" && good.items.count == 1 && good.note == nil)
        #expect(SnakeCase.convert("redirectURI") == "redirect_uri")
        #expect(SnakeCase.convert("clientID") == "client_id")
        #expect(SnakeCase.convert("expiresAt") == "expires_at")
        do {
            _ = try JSONCoding.decodeStrict(Outer.self, from: Array(#"{"client_id":"a","items":[{"expires_at":"2027-01-01T00:00:00Z","x":1}],"y":2}"#.utf8))
            Issue.record("unknown fields were accepted")
        } catch {
            #expect(error.status == 422)
            #expect(error.fieldProblems.map(\.field) == ["y", "items[0].x"])
        }
    }
}

final class Box<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value?
    func set(_ newValue: Value) { lock.lock(); value = newValue; lock.unlock() }
    func get() -> Value? { lock.lock(); defer { lock.unlock() }; return value }
}
