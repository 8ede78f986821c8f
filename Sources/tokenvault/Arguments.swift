/// Command-line options: `--name value`, `--name=value` and `--flag`.
struct Arguments {
    private(set) var positional: [String] = []
    private var options: [String: String] = [:]
    private var flags: Set<String> = []
    private var used: Set<String> = []

    init(_ arguments: [String], flags known: Set<String>) throws(CLIError) {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--") {
                let body = String(argument.dropFirst(2))
                if let equals = body.firstIndex(of: "=") {
                    options[String(body[..<equals])] = String(body[body.index(after: equals)...])
                } else if known.contains(body) {
                    flags.insert(body)
                } else {
                    guard index + 1 < arguments.count else { throw CLIError("--\(body) needs a value") }
                    options[body] = arguments[index + 1]
                    index += 1
                }
            } else {
                positional.append(argument)
            }
            index += 1
        }
    }

    mutating func value(_ name: String) -> String? {
        used.insert(name)
        return options[name]
    }

    mutating func flag(_ name: String) -> Bool {
        used.insert(name)
        return flags.contains(name)
    }

    /// Fails on options nobody asked for (a typo should not be ignored).
    func rejectUnknown() throws(CLIError) {
        if let unknown = (Set(options.keys).union(flags)).subtracting(used).sorted().first {
            throw CLIError("unknown option --\(unknown)")
        }
    }
}

/// A command-line error: printed, exit status 2 (usage) or 1 (failure).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    let isUsage: Bool

    init(_ message: String, usage: Bool = true) {
        description = message
        isUsage = usage
    }
}
