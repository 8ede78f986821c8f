/// The OpenAPI 3.1 document, as served at `/v1/openapi.json` (embedded from docs/openapi.json by scripts/embed).
enum OpenAPIDocument {
    static let bytes: [UInt8] = Array(text.utf8)
}

/// Public access to the API's documents.
public enum VaultAPIDocument {
    /// The OpenAPI document.
    public static var openAPI: [UInt8] { OpenAPIDocument.bytes }
}
