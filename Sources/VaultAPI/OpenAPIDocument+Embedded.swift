extension OpenAPIDocument { static let text = "{}" }
