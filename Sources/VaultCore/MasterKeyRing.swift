import Crypto
import Foundation

/// A master key (key-encryption key): an id and 32 bytes.
public struct MasterKey: Sendable {
    /// The id stored next to everything it wraps.
    public let id: String
    let bytes: [UInt8]
}

/// The master keys the process holds. The last one listed is the newest: it wraps new data keys; the older ones still
/// unwrap what they wrapped until `tokenvault keys rotate` has re-wrapped everything.
public struct MasterKeyRing: Sendable {
    /// The keys, oldest first.
    public let keys: [MasterKey]

    /// The key that wraps new data keys.
    public var newest: MasterKey { keys[keys.count - 1] }

    /// The key of that id.
    public func key(id: String) -> MasterKey? { keys.first { $0.id == id } }

    /// Parses `id:base64` entries separated by commas, spaces or new lines (the format of
    /// `TOKENVAULT_MASTER_KEYS` and of the key file). Lines starting with `#` are comments.
    public static func parse(_ text: String, source: String) throws(VaultError) -> MasterKeyRing {
        var keys: [MasterKey] = []
        let lines = text.split(whereSeparator: \.isNewline).filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
        let entries = lines.joined(separator: " ").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
        for (index, entry) in entries.enumerated() {
            let parts = entry.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else {
                throw VaultError(.configuration, "\(source): entry \(index + 1) is not of the form id:base64-key")
            }
            let id = String(parts[0])
            guard (1...32).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw VaultError(.configuration, "\(source): entry \(index + 1) has an invalid key id (1-32 of A-Z a-z 0-9 - _)")
            }
            guard let data = Data(base64Encoded: String(parts[1])), data.count == AESGCM.keyLength else {
                throw VaultError(.configuration, "\(source): key \(id) must be exactly 32 bytes, base64-encoded (openssl rand -base64 32)")
            }
            guard !keys.contains(where: { $0.id == id }) else {
                throw VaultError(.configuration, "\(source): key id \(id) appears twice")
            }
            keys.append(MasterKey(id: id, bytes: Array(data)))
        }
        guard !keys.isEmpty else { throw VaultError(.configuration, "\(source): no master key found") }
        return MasterKeyRing(keys: keys)
    }

    /// Reads the key file (which must not be readable by group or others).
    public static func load(file path: String) throws(VaultError) -> MasterKeyRing {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw VaultError(.configuration, "master key file \(path) cannot be read")
        }
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw VaultError(.configuration, "master key file \(path) is readable by others (mode \(String(mode, radix: 8))); chmod 600 it")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw VaultError(.configuration, "master key file \(path) cannot be read")
        }
        return try parse(text, source: path)
    }

    /// A new random key entry `id:base64` for a key file or the environment.
    public static func generateEntry(id: String, random: RandomSource = .secure) -> String {
        "\(id):" + Data(random.bytes(AESGCM.keyLength)).base64EncodedString()
    }
}
