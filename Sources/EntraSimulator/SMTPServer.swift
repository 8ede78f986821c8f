import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A minimal submission server with Exchange Online's answers: `AUTH XOAUTH2` (initial response or `334`
/// continuation) against the simulator's access tokens, SendAs checks on `MAIL FROM` and `From:`, and a record of
/// everything received. No STARTTLS: tests and development talk to it in clear on loopback.
final class SMTPServer: @unchecked Sendable {
    private let state: SimulatorState
    private var listener: Int32 = -1
    private let lock = NSLock()
    private var connections: Set<Int32> = []
    private var isStopped = false
    private(set) var port = 0

    init(state: SimulatorState) {
        self.state = state
    }

    func start(host: String, port requested: Int) throws {
        listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw SimulatorError("cannot open the SMTP socket") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(requested).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 64) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound else { throw SimulatorError("cannot listen for SMTP on \(host):\(requested)") }
        port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "sim-smtp-accept"
        thread.start()
    }

    func stop() {
        lock.lock()
        isStopped = true
        let open = connections
        lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in open { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                lock.lock()
                let stopped = isStopped
                lock.unlock()
                if stopped || errno == EBADF || errno == EINVAL { return }
                continue
            }
            lock.lock()
            connections.insert(fd)
            lock.unlock()
            let thread = Thread { [self] in
                serve(fd)
                lock.lock()
                connections.remove(fd)
                lock.unlock()
                close(fd)
            }
            thread.start()
        }
    }

    private func serve(_ fd: Int32) {
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connection = LineConnection(fd: fd)
        connection.send("220 sim.outlook.office365.com Microsoft ESMTP MAIL Service ready at \(Date().formatted(.iso8601))")
        var user: String?
        var mailFrom: String?
        var recipients: [String] = []
        while let line = connection.readLine() {
            let upper = line.uppercased()
            if upper.hasPrefix("EHLO") || upper.hasPrefix("HELO") {
                connection.send("250-sim.outlook.office365.com Hello [127.0.0.1]\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH LOGIN XOAUTH2\r\n250-8BITMIME\r\n250 SMTPUTF8")
            } else if upper.hasPrefix("AUTH XOAUTH2") {
                var encoded = String(line.dropFirst("AUTH XOAUTH2".count)).trimmingCharacters(in: .whitespaces)
                if encoded.isEmpty {
                    connection.send("334 ")
                    encoded = connection.readLine() ?? ""
                }
                let (code, reply, authenticated) = authenticate(encoded)
                user = authenticated
                connection.send(reply)
                _ = code
            } else if upper.hasPrefix("AUTH") {
                connection.send("550 5.7.30 Basic authentication is not supported for Client Submission.")
            } else if upper.hasPrefix("MAIL FROM:") {
                guard user != nil else {
                    connection.send("530 5.7.57 Client not authenticated to send mail. [sim.outlook.office365.com]")
                    continue
                }
                mailFrom = Self.address(in: String(line.dropFirst(10)))
                recipients = []
                connection.send("250 2.1.0 Sender OK")
            } else if upper.hasPrefix("RCPT TO:") {
                guard mailFrom != nil else { connection.send("503 5.5.1 Bad sequence of commands"); continue }
                recipients.append(Self.address(in: String(line.dropFirst(8))))
                connection.send("250 2.1.5 Recipient OK")
            } else if upper == "DATA" {
                guard let sender = mailFrom, let authenticated = user, !recipients.isEmpty else {
                    connection.send("503 5.5.1 Bad sequence of commands")
                    continue
                }
                connection.send("354 Start mail input; end with <CRLF>.<CRLF>")
                var lines: [String] = []
                while let dataLine = connection.readLine(), dataLine != "." {
                    lines.append(dataLine.hasPrefix("..") ? String(dataLine.dropFirst()) : dataLine)
                }
                let headerFrom = lines.prefix { !$0.isEmpty }.first { $0.lowercased().hasPrefix("from:") }.map { Self.address(in: String($0.dropFirst(5))) }
                let denied = [sender, headerFrom].compactMap { $0 }.first { !state.maySend(authenticated, as: $0) }
                let reply = denied.map {
                    "554 5.2.252 SendAsDenied; \(authenticated) not allowed to send as \($0); STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process message due to a permanent exception with message [BeginDiagnosticData]Cannot submit message.[EndDiagnosticData]"
                } ?? "250 2.0.0 OK <\(UUID().uuidString.lowercased())@sim.outlook.office365.com> [Hostname=sim.outlook.office365.com]"
                state.recordSMTP(SMTPRecord(kind: "message", user: authenticated, replyCode: Int(reply.prefix(3)) ?? 0, reply: reply, mailFrom: sender,
                                            recipients: recipients, headerFrom: headerFrom, data: lines.joined(separator: "\r\n")))
                connection.send(reply)
                mailFrom = nil
                recipients = []
            } else if upper == "RSET" {
                mailFrom = nil
                recipients = []
                connection.send("250 2.0.0 Resetting")
            } else if upper == "NOOP" {
                connection.send("250 2.0.0 OK")
            } else if upper == "QUIT" {
                connection.send("221 2.0.0 Service closing transmission channel")
                return
            } else if upper.hasPrefix("STARTTLS") {
                connection.send("454 4.7.0 TLS not available (EntraSimulator speaks SMTP in clear on loopback)")
            } else {
                connection.send("500 5.3.3 Unrecognized command")
            }
        }
    }

    private func authenticate(_ encoded: String) -> (Int, String, String?) {
        let failure = (535, "535 5.7.3 Authentication unsuccessful [sim.outlook.office365.com]", nil as String?)
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) else {
            state.recordSMTP(SMTPRecord(kind: "auth", user: nil, replyCode: 535, reply: failure.1, recipients: []))
            return failure
        }
        let fields = text.split(separator: "\u{1}", omittingEmptySubsequences: true)
        let user = fields.first { $0.hasPrefix("user=") }.map { String($0.dropFirst(5)) }
        let token = fields.first { $0.hasPrefix("auth=Bearer ") }.map { String($0.dropFirst(12)) }
        guard let user, let token, text.hasSuffix("\u{1}\u{1}") else {
            state.recordSMTP(SMTPRecord(kind: "auth", user: user, replyCode: 535, reply: failure.1, recipients: []))
            return failure
        }
        let (code, line, authenticated) = state.smtpAuthenticate(user: user, token: token)
        state.recordSMTP(SMTPRecord(kind: "auth", user: user.lowercased(), replyCode: code, reply: line, recipients: []))
        return (code, line, authenticated)
    }

    static func address(in text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let open = trimmed.firstIndex(of: "<"), let close = trimmed[open...].firstIndex(of: ">") {
            return String(trimmed[trimmed.index(after: open)..<close]).lowercased()
        }
        return String(trimmed.split(separator: " ").first ?? "").lowercased()
    }
}

/// Reads CRLF lines from a socket and writes replies.
private final class LineConnection {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) { self.fd = fd }

    func readLine() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            if buffer.count > 1 << 20 { return nil }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = recv(fd, &chunk, chunk.count, 0)
            if count <= 0 { return nil }
            buffer += chunk[..<count]
        }
    }

    func send(_ reply: String) {
        let bytes = Array((reply + "\r\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if written <= 0 { return }
            offset += written
        }
    }
}

/// The simulator's error.
public struct SimulatorError: Error, CustomStringConvertible {
    /// What failed.
    public let description: String
    init(_ description: String) { self.description = description }
}
