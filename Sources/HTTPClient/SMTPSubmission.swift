import CCurl
import Foundation

/// The outcome of an SMTP submission.
public struct SMTPResult: Sendable {
    /// True when the message was accepted.
    public let accepted: Bool
    /// The last reply code (`250`, `535`, `554`, …), 0 when no reply came.
    public let replyCode: Int
    /// The server's reply lines, in order (`235 2.7.0 Authentication successful`, …).
    public let replies: [String]
    /// libcurl's error, when it failed.
    public let error: String?
}

/// Sends a message over SMTP with `AUTH XOAUTH2` (libcurl: `CURLOPT_XOAUTH2_BEARER`, initial response on the AUTH line),
/// as an OpenFire instance does with a token from the vault.
public enum SMTPSubmission {
    /// Sends `message` (headers and body, CRLF line ends) from `from` to `recipients`.
    /// `useTLS` requires STARTTLS (production); the simulator speaks in clear on loopback.
    public static func send(host: String, port: Int, username: String, accessToken: String, from: String, recipients: [String],
                            message: String, useTLS: Bool = false, timeout: Duration = .seconds(15)) -> SMTPResult {
        Curl.initializeOnce()
        let handle = CurlHandle()
        let sink = TransferSink()
        sink.upload = Array(message.utf8)
        let transcript = Transcript()
        let sinkPointer = Unmanaged.passUnretained(sink).toOpaque()
        let transcriptPointer = Unmanaged.passUnretained(transcript).toOpaque()
        var recipientList: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(recipientList) }
        for recipient in recipients { recipientList = curl_slist_append(recipientList, "<\(recipient)>") }
        let h = handle.handle
        let code: CURLcode = handle.errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            var status = CURLE_OK
            func set(_ result: CURLcode) { if status == CURLE_OK { status = result } }
            set(tv_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorPointer.baseAddress))
            set(tv_curl_setopt_string(h, CURLOPT_URL, "smtp://\(host):\(port)"))
            set(tv_curl_setopt_string(h, CURLOPT_PROTOCOLS_STR, "smtp"))
            set(tv_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1))
            set(tv_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(timeout.components.seconds * 1000)))
            set(tv_curl_setopt_long(h, CURLOPT_USE_SSL, useTLS ? Int(CURLUSESSL_ALL.rawValue) : Int(CURLUSESSL_NONE.rawValue)))
            set(tv_curl_setopt_string(h, CURLOPT_USERNAME, username))
            set(tv_curl_setopt_string(h, CURLOPT_XOAUTH2_BEARER, accessToken))
            set(tv_curl_setopt_string(h, CURLOPT_LOGIN_OPTIONS, "AUTH=XOAUTH2"))
            set(tv_curl_setopt_long(h, CURLOPT_SASL_IR, 1))
            set(tv_curl_setopt_string(h, CURLOPT_MAIL_FROM, "<\(from)>"))
            set(tv_curl_setopt_slist(h, CURLOPT_MAIL_RCPT, recipientList))
            set(tv_curl_setopt_long(h, CURLOPT_UPLOAD, 1))
            set(tv_curl_setopt_read_callback(h, CURLOPT_READFUNCTION, readUpload))
            set(tv_curl_setopt_pointer(h, CURLOPT_READDATA, sinkPointer))
            set(tv_curl_setopt_write_callback(h, CURLOPT_WRITEFUNCTION, writeBody))
            set(tv_curl_setopt_pointer(h, CURLOPT_WRITEDATA, sinkPointer))
            set(tv_curl_setopt_long(h, CURLOPT_VERBOSE, 1))
            set(tv_curl_setopt_debug_callback(h, CURLOPT_DEBUGFUNCTION, collectReplies))
            set(tv_curl_setopt_pointer(h, CURLOPT_DEBUGDATA, transcriptPointer))
            guard status == CURLE_OK else { return status }
            return curl_easy_perform(h)
        }
        var reply = 0
        _ = tv_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &reply)
        let error: String? = code == CURLE_OK ? nil : String(decoding: handle.errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return SMTPResult(accepted: code == CURLE_OK, replyCode: reply, replies: transcript.lines, error: error)
    }
}

/// The server's lines, as libcurl's debug callback sees them (never the client's, which carry the token).
final class Transcript {
    var lines: [String] = []
}

private let collectReplies: tv_curl_debug_callback = { _, type, data, size, userData in
    guard type == CURLINFO_HEADER_IN, let data, let userData else { return 0 }
    let transcript = Unmanaged<Transcript>.fromOpaque(userData).takeUnretainedValue()
    let text = data.withMemoryRebound(to: UInt8.self, capacity: size) { String(decoding: UnsafeBufferPointer(start: $0, count: size), as: UTF8.self) }
    transcript.lines += text.split(whereSeparator: \.isNewline).map(String.init)
    return 0
}
