/// A command's options, for parsing and for `--help`.
struct CommandSpec {
    struct Option {
        let name: String
        let value: String?
        let repeatable: Bool
        let help: String
        init(_ name: String, value: String? = nil, repeatable: Bool = false, _ help: String) {
            self.name = name
            self.value = value
            self.repeatable = repeatable
            self.help = help
        }
    }

    let usage: String
    let summary: String
    var options: [Option] = []

    var help: String {
        var text = "usage: keyward \(usage)\n\n\(summary)\n"
        if !options.isEmpty {
            text += "\noptions:\n"
            for o in options {
                let left = "  --\(o.name)" + (o.value.map { " \($0)" } ?? "") + (o.repeatable ? " ..." : "")
                text += left.padding(toLength: max(left.count + 2, 30), withPad: " ", startingAt: 0) + o.help + "\n"
            }
        }
        text += "\nglobal: --db PATH (KEYWARD_DB), --config PATH (KEYWARD_CONFIG), --json\n"
        return text
    }
}

/// Wrong usage: exit 2 with the reason and a pointer to `--help`.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A refused operation: exit 1 with a one-line reason.
struct Refusal: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Arguments after the command words, parsed against a spec.
struct ParsedArguments {
    var positionals: [String] = []
    var values: [String: [String]] = [:]
    var flags: Set<String> = []

    init(_ args: ArraySlice<String>, spec: CommandSpec) throws {
        var rest = args[...]
        while let arg = rest.popFirst() {
            guard arg.hasPrefix("--"), arg.count > 2 else {
                positionals.append(arg)
                continue
            }
            var name = String(arg.dropFirst(2))
            var inline: String? = nil
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let option = spec.options.first(where: { $0.name == name }) else {
                throw UsageError("unknown option --\(name)")
            }
            if option.value == nil {
                guard inline == nil else { throw UsageError("--\(name) takes no value") }
                flags.insert(name)
                continue
            }
            guard let value = inline ?? rest.popFirst() else { throw UsageError("--\(name) needs a value") }
            if values[name] != nil && !option.repeatable { throw UsageError("--\(name) given twice") }
            values[name, default: []].append(value)
        }
    }

    func value(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }

    /// Exactly `count` positionals, named in the error.
    func positional(_ names: String...) throws -> [String] {
        guard positionals.count == names.count else {
            throw UsageError(
                positionals.count < names.count
                    ? "missing \(names[positionals.count])" : "unexpected argument \(positionals[names.count])")
        }
        return positionals
    }
}
