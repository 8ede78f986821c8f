import Foundation
import Testing

@Suite struct OpenAPITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func document() throws -> [String: Any] {
        let data = try Data(contentsOf: root.appendingPathComponent("docs/openapi.json"))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    @Test("every route the service serves is in docs/openapi.json, with its method")
    func everyRouteIsDocumented() throws {
        let service = try TestService()
        let paths = try Self.document()["paths"] as! [String: [String: Any]]
        for route in service.application.routes {
            let parts = route.split(separator: " ", maxSplits: 1).map(String.init)
            let operation = paths[parts[1]]?[parts[0].lowercased()]
            #expect(operation != nil, "\(route) is missing from docs/openapi.json")
        }
        // And nothing documented is missing from the service.
        let served = Set(service.application.routes)
        for (path, item) in paths {
            for method in item.keys where ["get", "post", "put", "patch", "delete"].contains(method) {
                #expect(served.contains("\(method.uppercased()) \(path)"), "\(method.uppercased()) \(path) is documented but not served")
            }
        }
    }

    @Test("the document is OpenAPI 3.1, and /v1/openapi.json serves exactly docs/openapi.json (run scripts/embed after editing it)")
    func servedDocumentIsTheFile() throws {
        let document = try Self.document()
        #expect(document["openapi"] as? String == "3.1.0")
        let service = try TestService()
        let served = try service.call("GET", "/v1/openapi.json", key: "")
        #expect(served.status == 200)
        let file = try String(contentsOf: Self.root.appendingPathComponent("docs/openapi.json"), encoding: .utf8)
        #expect(served.text.trimmingCharacters(in: .newlines) == file.trimmingCharacters(in: .newlines))
    }

    @Test("every operation names its roles and documents its error answers")
    func operationsAreComplete() throws {
        let paths = try Self.document()["paths"] as! [String: [String: Any]]
        for (path, item) in paths {
            for (method, value) in item where method != "parameters" {
                let operation = value as! [String: Any]
                #expect(operation["x-roles"] != nil, "\(method) \(path) has no x-roles")
                let responses = operation["responses"] as! [String: Any]
                if !(operation["x-roles"] as! [String]).contains("public") {
                    #expect(responses["401"] != nil, "\(method) \(path) does not document 401")
                }
            }
        }
    }
}

@Suite struct DocumentationTests {
    @Test("the README's configuration table lists every variable the service reads, with its default")
    func configurationTable() throws {
        let readme = try String(contentsOf: OpenAPITests.root.appendingPathComponent("README.md"), encoding: .utf8)
        for variable in ServiceConfiguration.variables {
            let defaultCell = variable.defaultValue.hasPrefix("(") ? variable.defaultValue : "`\(variable.defaultValue)`"
            #expect(readme.contains("| `\(variable.name)` | \(defaultCell) |"), "\(variable.name) is missing or its default differs")
        }
    }
}

import VaultAPI
