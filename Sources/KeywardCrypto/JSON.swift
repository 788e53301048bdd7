/// A JSON value (RFC 8259) and Keyward's one JSON writer: the gateway's bodies, tokens and their
/// JWS headers, JWKs, the admin API, the reveal page and the CLI's `--json` all write through it.
///
/// Objects keep their members in the order given (`sortedKeys` sorts them by UTF-8 bytes when a
/// caller wants that); `null` is a value like any other, so a documented field can always be
/// written. Strings escape `"`, `\` and every C0 control (RFC 8259 §7), and, unless `.minimal` is
/// asked for, every character that would not show as itself (`hides`: C1 controls, U+2028/U+2029,
/// bidi overrides and other format characters) as `\uXXXX`, which means the same string.
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    /// How much a string escapes.
    public enum Escaping: Sendable {
        /// RFC 8259's minimum: `"`, `\` and C0 controls; what RFC 7638 §3.3 asks of a thumbprint's input.
        case minimal
        /// The minimum and every character `hides` names: the text shows as itself wherever it is printed.
        case printable
    }

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.double(let x), .double(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// A string, or `null` for nil.
    public static func optional(_ value: String?) -> JSON { value.map(JSON.string) ?? .null }
    /// An integer, or `null` for nil.
    public static func optional(_ value: Int64?) -> JSON { value.map(JSON.int) ?? .null }
    /// An array of strings.
    public static func strings(_ values: [String]) -> JSON { .array(values.map(JSON.string)) }

    /// The same value with every object's members sorted by name (UTF-8 byte order), at every depth.
    public var sortedKeys: JSON {
        switch self {
        case .array(let items): .array(items.map(\.sortedKeys))
        case .object(let members):
            .object(members.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }.map { ($0.0, $0.1.sortedKeys) })
        default: self
        }
    }

    /// Compact JSON text: no whitespace, members in order.
    public var text: String { text(escaping: .printable) }

    /// Compact JSON text with the given string escaping.
    public func text(escaping: Escaping) -> String {
        var out = ""
        write(to: &out, escaping: escaping, indent: nil)
        return out
    }

    /// Indented JSON text for people (the CLI's `--json`): two spaces a level, `"name" : value`.
    public var pretty: String {
        var out = ""
        write(to: &out, escaping: .printable, indent: 0)
        return out
    }

    /// The UTF-8 bytes of the compact text.
    public var bytes: [UInt8] { Array(text.utf8) }

    private func write(to out: inout String, escaping: Escaping, indent: Int?) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if !d.isFinite {
                out += "null"
            } else if d == d.rounded(), abs(d) < 1e15 {
                out += String(Int64(d))
            } else {
                out += "\(d)"
            }
        case .string(let s): Self.quote(s, escaping: escaping, into: &out)
        case .array(let items):
            guard !items.isEmpty else {
                out += "[]"
                return
            }
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                Self.newline(&out, indent.map { $0 + 1 })
                item.write(to: &out, escaping: escaping, indent: indent.map { $0 + 1 })
            }
            Self.newline(&out, indent)
            out += "]"
        case .object(let members):
            guard !members.isEmpty else {
                out += "{}"
                return
            }
            out += "{"
            for (i, (name, value)) in members.enumerated() {
                if i > 0 { out += "," }
                Self.newline(&out, indent.map { $0 + 1 })
                Self.quote(name, escaping: escaping, into: &out)
                out += indent == nil ? ":" : " : "
                value.write(to: &out, escaping: escaping, indent: indent.map { $0 + 1 })
            }
            Self.newline(&out, indent)
            out += "}"
        }
    }

    private static func newline(_ out: inout String, _ indent: Int?) {
        guard let indent else { return }
        out += "\n" + String(repeating: "  ", count: indent)
    }

    /// `text` as a JSON string literal.
    public static func quoted(_ text: String, escaping: Escaping = .printable) -> String {
        var out = ""
        quote(text, escaping: escaping, into: &out)
        return out
    }

    private static func quote(_ text: String, escaping: Escaping, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || (escaping == .printable && hides(scalar)):
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    /// True for a character that would not show as itself when printed: C0 and C1 controls and
    /// DEL, line and paragraph separators (U+2028, U+2029), and format characters such as bidi
    /// overrides and zero-width joiners. `PrintableText.hides` is this test.
    public static func hides(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x20 || (0x7F..<0xA0).contains(c.value) { return true }
        switch c.properties.generalCategory {
        case .format, .lineSeparator, .paragraphSeparator, .control: return true
        default: return false
        }
    }
}
