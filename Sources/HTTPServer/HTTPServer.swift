import CMicroHTTPD
import Foundation
import Logging

/// Something that answers requests. `respond` runs on a worker thread and may block.
public protocol HTTPResponder: Sendable {
    /// The response to a request.
    func respond(to request: HTTPRequest) -> HTTPResponse
}

/// Server settings.
public struct HTTPServerConfiguration: Sendable {
    /// IPv4 address to bind.
    public var host: String
    /// Port; 0 picks a free one (read it back from `HTTPServer.port`).
    public var port: Int
    /// libmicrohttpd polling threads (epoll); they never run handlers.
    public var pollingThreads: Int
    /// Worker threads that run handlers; a handler that waits holds one worker, not a polling thread.
    public var workerThreads: Int
    /// Largest request body accepted (413 above).
    public var maxBodyBytes: Int
    /// Largest total size of header fields accepted (431 above).
    public var maxHeaderBytes: Int
    /// Seconds of inactivity after which a connection is closed.
    public var connectionTimeoutSeconds: Int
    /// Upper bound of simultaneous connections.
    public var maxConnections: Int

    /// Settings with production defaults.
    public init(host: String = "127.0.0.1", port: Int = 8400, pollingThreads: Int = 2, workerThreads: Int = 64,
                maxBodyBytes: Int = 64 * 1024, maxHeaderBytes: Int = 16 * 1024, connectionTimeoutSeconds: Int = 30,
                maxConnections: Int = 4096) {
        self.host = host
        self.port = port
        self.pollingThreads = pollingThreads
        self.workerThreads = workerThreads
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.maxConnections = maxConnections
    }
}

/// The one error shape of this module.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public let message: String
    /// The text.
    public var description: String { "HTTP server: \(message)" }
}

/// An HTTP/1.1 server on libmicrohttpd.
///
/// libmicrohttpd's polling threads parse requests and collect bodies; when a request is complete its connection is
/// suspended (`MHD_suspend_connection`) and the responder runs on a worker thread; the worker stores the response and
/// resumes the connection, and the polling thread sends it. A slow handler therefore never delays other connections.
public final class HTTPServer: @unchecked Sendable {
    /// The settings.
    public let configuration: HTTPServerConfiguration
    let responder: any HTTPResponder
    let logger: Logger
    let workers: WorkerPool
    private var daemon: OpaquePointer?
    private let inFlight = NSCondition()
    private var inFlightCount = 0
    private var draining = false
    private var retainedSelf: Unmanaged<HTTPServer>?

    /// A server; call `start()`.
    public init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
        self.workers = WorkerPool(threads: configuration.workerThreads, name: "http-worker")
    }

    /// Binds and starts serving.
    public func start() throws(HTTPServerError) {
        precondition(daemon == nil, "already started")
        signal(SIGPIPE, SIG_IGN)
        let flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue | MHD_ALLOW_SUSPEND_RESUME.rawValue
        let me = Unmanaged.passRetained(self)
        // Headers above the configured limit get our own problem+json 431; MHD's own limit is set well above it.
        let memoryLimit = max(64 * 1024, configuration.maxHeaderBytes * 4)
        daemon = tv_mhd_start(
            flags, configuration.host, UInt16(configuration.port),
            UInt32(max(1, configuration.pollingThreads)), UInt32(configuration.connectionTimeoutSeconds),
            memoryLimit, UInt32(configuration.maxConnections),
            accessHandler, me.toOpaque(), requestCompleted, me.toOpaque(), keepEscaped)
        guard daemon != nil else {
            me.release()
            throw HTTPServerError(message: "cannot listen on \(configuration.host):\(configuration.port) (address in use or invalid)")
        }
        retainedSelf = me
        logger.info("listening", ["http.address": "\(configuration.host):\(port)"])
    }

    /// The bound port.
    public var port: Int {
        guard let daemon else { return configuration.port }
        return Int(tv_mhd_bound_port(daemon))
    }

    /// Requests being handled (for metrics).
    public var requestsInFlight: Int {
        inFlight.lock()
        defer { inFlight.unlock() }
        return inFlightCount
    }

    /// True once `shutdown` has stopped accepting connections.
    public var isDraining: Bool {
        inFlight.lock()
        defer { inFlight.unlock() }
        return draining
    }

    /// Open connections (for metrics).
    public var openConnections: Int {
        guard let daemon else { return 0 }
        return Int(tv_mhd_current_connections(daemon))
    }

    /// Stops accepting connections, lets requests in progress finish (up to `gracePeriod`), then stops.
    public func shutdown(gracePeriod: Duration = .seconds(10)) {
        guard let daemon else { return }
        let listener = MHD_quiesce_daemon(daemon)
        if listener >= 0 { close(listener) }
        let deadline = Date().addingTimeInterval(gracePeriod.inSeconds)
        inFlight.lock()
        draining = true
        while inFlightCount > 0 && Date() < deadline { _ = inFlight.wait(until: deadline) }
        let abandoned = inFlightCount
        inFlight.unlock()
        if abandoned > 0 {
            logger.warning("stopping with requests still running", ["http.in_flight": "\(abandoned)"])
        }
        MHD_stop_daemon(daemon)
        self.daemon = nil
        workers.stop()
        retainedSelf?.release()
        retainedSelf = nil
        logger.info("stopped")
    }

    func requestStarted() {
        inFlight.lock()
        inFlightCount += 1
        inFlight.unlock()
    }

    func requestFinished() {
        inFlight.lock()
        inFlightCount -= 1
        if draining { inFlight.broadcast() }
        inFlight.unlock()
    }
}

/// State of one request, kept by libmicrohttpd between calls of the access handler.
final class RequestState: @unchecked Sendable {
    let method: String
    let path: String
    let headers: HTTPHeaders
    let queryItems: [(name: String, value: String)]
    let remoteAddress: String
    var body: [UInt8] = []
    var rejection: HTTPError?
    var isDispatched = false
    /// True when a worker ran the responder (the in-flight count includes the request until it completes).
    var wasHandled = false
    private let lock = NSLock()
    private var response: HTTPResponse?

    init(method: String, path: String, headers: HTTPHeaders, queryItems: [(name: String, value: String)], remoteAddress: String) {
        self.method = method
        self.path = path
        self.headers = headers
        self.queryItems = queryItems
        self.remoteAddress = remoteAddress
    }

    func setResponse(_ value: HTTPResponse) {
        lock.lock()
        response = value
        lock.unlock()
    }

    func takeResponse() -> HTTPResponse? {
        lock.lock()
        defer { lock.unlock() }
        let value = response
        response = nil
        return value
    }
}

/// Moves a connection pointer to a worker thread (libmicrohttpd allows resuming from any thread).
private struct ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

private let keepEscaped: tv_mhd_unescape_callback = { _, _, text in
    // Keep the URL as sent: the router splits the path first and decodes each segment, so an encoded "/" stays data.
    guard let text else { return 0 }
    return strlen(text)
}

private let requestCompleted: MHD_RequestCompletedCallback = { cls, _, context, _ in
    guard let cls, let context, let raw = context.pointee else { return }
    let state = Unmanaged<RequestState>.fromOpaque(raw).takeRetainedValue()
    context.pointee = nil
    // Only now is the response sent (or the connection gone): a draining shutdown may stop the daemon.
    if state.isDispatched && state.wasHandled {
        Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue().requestFinished()
    }
}

private let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadDataSize, context in
    guard let cls, let connection, let context, let uploadDataSize else { return .NO }
    let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()

    guard let raw = context.pointee else {
        // First call: headers are complete. Record the request; the response is queued on a later call so that
        // keep-alive is preserved.
        let state = makeState(connection: connection, url: url, method: method, server: server)
        context.pointee = Unmanaged.passRetained(state).toOpaque()
        return .YES
    }
    let state = Unmanaged<RequestState>.fromOpaque(raw).takeUnretainedValue()

    if uploadDataSize.pointee > 0 {
        let size = uploadDataSize.pointee
        if state.rejection == nil {
            if state.body.count + size > server.configuration.maxBodyBytes {
                state.rejection = HTTPError(413, code: "body_too_large",
                                            detail: "The body exceeds \(server.configuration.maxBodyBytes) bytes.")
                state.body = []
            } else if let uploadData {
                uploadData.withMemoryRebound(to: UInt8.self, capacity: size) { pointer in
                    state.body.append(contentsOf: UnsafeBufferPointer(start: pointer, count: size))
                }
            }
        }
        uploadDataSize.pointee = 0
        return .YES
    }

    if let response = state.takeResponse() {
        return queue(response, on: connection)
    }
    guard !state.isDispatched else { return .YES }
    state.isDispatched = true

    if let rejection = state.rejection {
        let requestID = state.headers["x-request-id"].flatMap(RequestID.accept) ?? RequestID.make()
        var response = rejection.response(requestID: requestID)
        response.headers.set("X-Request-Id", requestID)
        return queue(response, on: connection)
    }

    let request = HTTPRequest(method: state.method, path: state.path, queryItems: state.queryItems,
                              headers: state.headers, body: state.body, remoteAddress: state.remoteAddress)
    state.body = []
    let handle = ConnectionHandle(pointer: connection)
    server.requestStarted()
    state.wasHandled = true
    MHD_suspend_connection(connection)
    server.workers.submit {
        let response = server.responder.respond(to: request)
        state.setResponse(response)
        MHD_resume_connection(handle.pointer)
    }
    return .YES
}

private func makeState(connection: OpaquePointer, url: UnsafePointer<CChar>?, method: UnsafePointer<CChar>?, server: HTTPServer) -> RequestState {
    let collector = Collector()
    let box = Unmanaged.passUnretained(collector).toOpaque()
    MHD_get_connection_values(connection, .HEADER_KIND, collectHeader, box)
    MHD_get_connection_values(connection, .GET_ARGUMENT_KIND, collectQuery, box)
    var address = [CChar](repeating: 0, count: 64)
    let remote = tv_mhd_client_ip(connection, &address, address.count) == 0 ? String(decoding: address.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
    let state = RequestState(method: method.map { String(cString: $0) } ?? "GET",
                             path: url.map { String(cString: $0) } ?? "/",
                             headers: collector.headers, queryItems: collector.query, remoteAddress: remote)
    if collector.headers.byteCount > server.configuration.maxHeaderBytes {
        state.rejection = HTTPError(431, code: "headers_too_large",
                                    detail: "The header fields exceed \(server.configuration.maxHeaderBytes) bytes.")
    } else if let length = collector.headers["content-length"].flatMap(Int.init), length > server.configuration.maxBodyBytes {
        state.rejection = HTTPError(413, code: "body_too_large", detail: "The body exceeds \(server.configuration.maxBodyBytes) bytes.")
    } else if collector.hasInvalidQuery {
        state.rejection = HTTPError.badRequest("The query string is not valid percent-encoded UTF-8.")
    }
    return state
}

private final class Collector {
    var headers = HTTPHeaders()
    var query: [(name: String, value: String)] = []
    var hasInvalidQuery = false
}

private let collectHeader: MHD_KeyValueIterator = { cls, _, key, value in
    guard let cls, let key else { return .YES }
    let collector = Unmanaged<Collector>.fromOpaque(cls).takeUnretainedValue()
    collector.headers.add(String(cString: key), value.map { String(cString: $0) } ?? "")
    return .YES
}

private let collectQuery: MHD_KeyValueIterator = { cls, _, key, value in
    guard let cls, let key else { return .YES }
    let collector = Unmanaged<Collector>.fromOpaque(cls).takeUnretainedValue()
    // libmicrohttpd has turned '+' into ' ' already; percent escapes are still there (see keepEscaped).
    guard let name = String(cString: key).removingPercentEncoding,
          let text = (value.map { String(cString: $0) } ?? "").removingPercentEncoding else {
        collector.hasInvalidQuery = true
        return .YES
    }
    collector.query.append((name, text))
    return .YES
}

private func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
    let mhdResponse = response.body.withUnsafeBytes { bytes in
        MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), .RESPMEM_MUST_COPY)
    }
    guard let mhdResponse else { return .NO }
    for (name, value) in response.headers {
        MHD_add_response_header(mhdResponse, name, value)
    }
    let result = MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    MHD_destroy_response(mhdResponse)
    return result
}

/// Request identifiers: accepted from `X-Request-Id` when well-formed, otherwise generated.
public enum RequestID {
    /// A new random identifier.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        return "req_" + String((0..<20).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }

    /// The caller's identifier when it is 1–64 characters of `[A-Za-z0-9._-]`, else nil.
    public static func accept(_ text: String) -> String? {
        guard (1...64).contains(text.utf8.count),
              text.utf8.allSatisfy({ c in
                  (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 46 || c == 95
              }) else { return nil }
        return text
    }
}
