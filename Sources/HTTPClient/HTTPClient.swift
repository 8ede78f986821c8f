import CCurl
import Foundation
import Logging

/// A request to send.
public struct HTTPClientRequest: Sendable {
    /// The method.
    public var method: String
    /// The absolute URL.
    public var url: String
    /// Header fields, in order.
    public var headers: [(String, String)]
    /// The body (sent when not empty, or always for POST/PUT/PATCH).
    public var body: [UInt8]
    /// Total time allowed, connection included.
    public var timeout: Duration

    /// A request.
    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: [UInt8] = [], timeout: Duration = .seconds(10)) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A response received.
public struct HTTPClientResponse: Sendable {
    /// The status code.
    public let status: Int
    /// Header fields with lower-case names, in order.
    public let headers: [(name: String, value: String)]
    /// The body.
    public let body: [UInt8]

    /// The first value of a header (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// The one error shape of this module. Texts never include request bodies or credentials.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// Stable codes.
    public enum Code: String, Sendable {
        /// The peer did not answer in time.
        case timeout
        /// No connection could be made (refused, DNS, unreachable).
        case connectionFailed = "connection_failed"
        /// TLS failed.
        case tlsFailed = "tls_failed"
        /// Anything else libcurl reported.
        case transferFailed = "transfer_failed"
    }

    /// What failed.
    public let code: Code
    /// libcurl's message (never carries a credential: URLs we build carry none).
    public let message: String

    /// The text.
    public var description: String { "HTTP client \(code.rawValue): \(message)" }
}

/// An HTTP client on libcurl, safe to share between threads. It keeps a few easy handles, each with its own
/// connection cache, so connections to the same host are reused.
public final class HTTPClient: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [CurlHandle] = []
    private let maxIdle: Int

    /// A client keeping up to `maxIdleHandles` handles (and their connections) for reuse.
    public init(maxIdleHandles: Int = 16) {
        Curl.initializeOnce()
        self.maxIdle = maxIdleHandles
    }

    /// Sends a request and waits for the whole response.
    public func send(_ request: HTTPClientRequest) throws(HTTPClientError) -> HTTPClientResponse {
        let handle = checkOut()
        defer { checkIn(handle) }
        return try handle.perform(request)
    }

    private func checkOut() -> CurlHandle {
        lock.lock()
        defer { lock.unlock() }
        return idle.popLast() ?? CurlHandle()
    }

    private func checkIn(_ handle: CurlHandle) {
        lock.lock()
        defer { lock.unlock() }
        if idle.count < maxIdle { idle.append(handle) }
    }
}

enum Curl {
    private static let initialized: Bool = {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    /// libcurl's global initialisation, exactly once.
    static func initializeOnce() { precondition(initialized, "curl_global_init failed") }

    /// The one place where libcurl codes become errors.
    static func check(_ code: CURLcode, _ errorBuffer: [CChar]) throws(HTTPClientError) {
        guard code != CURLE_OK else { return }
        let detail = errorBuffer.first == 0 ? String(cString: curl_easy_strerror(code)) : String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch code {
        case CURLE_OPERATION_TIMEDOUT: throw HTTPClientError(code: .timeout, message: detail)
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            throw HTTPClientError(code: .connectionFailed, message: detail)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
            throw HTTPClientError(code: .tlsFailed, message: detail)
        default: throw HTTPClientError(code: .transferFailed, message: detail)
        }
    }
}

/// Collects what a transfer receives; reached from libcurl's callbacks through an unmanaged pointer.
final class TransferSink {
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    var upload: [UInt8] = []
    var uploadOffset = 0
}

let writeBody: tv_curl_write_callback = { pointer, size, count, userData in
    guard let pointer, let userData else { return 0 }
    let sink = Unmanaged<TransferSink>.fromOpaque(userData).takeUnretainedValue()
    let length = size * count
    pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        sink.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
    }
    return length
}

private let writeHeader: tv_curl_write_callback = { pointer, size, count, userData in
    guard let pointer, let userData else { return 0 }
    let sink = Unmanaged<TransferSink>.fromOpaque(userData).takeUnretainedValue()
    let length = size * count
    let line = pointer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }
    if line.hasPrefix("HTTP/") {
        sink.headers.removeAll()  // a new response (after 100 Continue or a redirect)
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        sink.headers.append((name, value))
    }
    return length
}

let readUpload: tv_curl_read_callback = { buffer, size, count, userData in
    guard let buffer, let userData else { return 0 }
    let sink = Unmanaged<TransferSink>.fromOpaque(userData).takeUnretainedValue()
    let length = min(size * count, sink.upload.count - sink.uploadOffset)
    if length > 0 {
        sink.upload.withUnsafeBytes { source in
            UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + sink.uploadOffset, byteCount: length)
        }
        sink.uploadOffset += length
    }
    return length
}

/// Owns one easy handle and frees it.
final class CurlHandle {
    let handle: UnsafeMutableRawPointer
    var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    init() {
        handle = curl_easy_init()!
    }

    deinit { curl_easy_cleanup(handle) }

    func perform(_ request: HTTPClientRequest) throws(HTTPClientError) -> HTTPClientResponse {
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        let sink = TransferSink()
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        var headerList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(headerList) }
        for (name, value) in request.headers { headerList = curl_slist_append(headerList, "\(name): \(value)") }
        headerList = curl_slist_append(headerList, "Expect:")

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            var status = CURLE_OK
            func set(_ result: CURLcode) { if status == CURLE_OK { status = result } }
            set(tv_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorPointer.baseAddress))
            set(tv_curl_setopt_string(handle, CURLOPT_URL, request.url))
            set(tv_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
            set(tv_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Int(request.timeout.components.seconds * 1000 + request.timeout.components.attoseconds / 1_000_000_000_000_000)))
            set(tv_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, 5000))
            set(tv_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
            set(tv_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
            set(tv_curl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, writeBody))
            set(tv_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, sinkPointer))
            set(tv_curl_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION, writeHeader))
            set(tv_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, sinkPointer))
            set(tv_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))
            switch request.method {
            case "GET" where request.body.isEmpty:
                set(tv_curl_setopt_long(handle, CURLOPT_HTTPGET, 1))
            case "HEAD":
                set(tv_curl_setopt_long(handle, CURLOPT_NOBODY, 1))
            default:
                set(tv_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method))
                if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(request.method) {
                    set(tv_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
                    request.body.withUnsafeBytes { bytes in
                        set(tv_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)))
                    }
                }
            }
            guard status == CURLE_OK else { return status }
            return curl_easy_perform(handle)
        }
        try Curl.check(code, errorBuffer)
        var status = 0
        _ = tv_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPClientResponse(status: status, headers: sink.headers, body: sink.body)
    }
}
