/// A strict, small JSON reader (RFC 8259) for token headers, payloads and request bodies.
///
/// Foundation's parser costs more than the rest of a token's parsing and accepts UTF-16 and
/// UTF-32 text; this one reads UTF-8 only, refuses duplicate member names (RFC 7515 §4 allows
/// refusing them; RFC 8725 §3.7 prefers one reading), bounds nesting, and produces Swift values:
/// `String`, `Int` (integers that fit), `Double`, `Bool`, `NSNull`-free `nil` markers as
/// `JSONReader.Null`, `[Any]` and `[String: Any]`.
public struct JSONReader {
    /// The JSON `null`.
    public struct Null: Equatable, Sendable {}

    private let bytes: [UInt8]
    private var i = 0
    private var depth = 0
    private static let maxDepth = 16

    /// The object `bytes` holds, or nil for anything else (trailing bytes included).
    public static func object(_ bytes: [UInt8]) -> [String: Any]? {
        var reader = JSONReader(bytes: bytes)
        guard let value = reader.value(), reader.atEnd() else { return nil }
        return value as? [String: Any]
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func atEnd() -> Bool {
        skipSpace()
        return i == bytes.count
    }

    private mutating func value() -> Any? {
        skipSpace()
        guard i < bytes.count else { return nil }
        switch bytes[i] {
        case UInt8(ascii: "{"): return object()
        case UInt8(ascii: "["): return array()
        case UInt8(ascii: "\""): return string()
        case UInt8(ascii: "t"): return literal("true", true)
        case UInt8(ascii: "f"): return literal("false", false)
        case UInt8(ascii: "n"): return literal("null", Null())
        default: return number()
        }
    }

    private mutating func literal(_ word: String, _ result: Any) -> Any? {
        let count = word.utf8.count
        guard i + count <= bytes.count else { return nil }
        for (k, c) in word.utf8.enumerated() where bytes[i + k] != c { return nil }
        i += count
        return result
    }

    private mutating func object() -> [String: Any]? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { return nil }
        i += 1
        var out: [String: Any] = [:]
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            return out
        }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), let name = string() else { return nil }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            guard let v = value(), out[name] == nil else { return nil }
            out[name] = v
            skipSpace()
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "}") {
                i += 1
                return out
            }
            return nil
        }
    }

    private mutating func array() -> [Any]? {
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { return nil }
        i += 1
        var out: [Any] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            return out
        }
        while true {
            guard let v = value() else { return nil }
            out.append(v)
            skipSpace()
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "]") {
                i += 1
                return out
            }
            return nil
        }
    }

    private mutating func string() -> String? {
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20 { i += 1 }
        guard i < bytes.count else { return nil }
        if bytes[i] == UInt8(ascii: "\"") {
            defer { i += 1 }
            return String(validating: bytes[start..<i], as: UTF8.self)
        }
        guard bytes[i] == UInt8(ascii: "\\") else { return nil }  // a control byte
        var scalars = String(validating: bytes[start..<i], as: UTF8.self).map { Array($0.unicodeScalars) }
        guard scalars != nil else { return nil }
        var run = i
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                guard let tail = String(validating: bytes[run..<i], as: UTF8.self) else { return nil }
                i += 1
                var s = String(String.UnicodeScalarView(scalars!))
                s += tail
                return s
            }
            if c < 0x20 { return nil }
            if c != UInt8(ascii: "\\") {
                i += 1
                continue
            }
            guard let pending = String(validating: bytes[run..<i], as: UTF8.self) else { return nil }
            scalars! += pending.unicodeScalars
            i += 1
            guard i < bytes.count else { return nil }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""): scalars!.append("\"")
            case UInt8(ascii: "\\"): scalars!.append("\\")
            case UInt8(ascii: "/"): scalars!.append("/")
            case UInt8(ascii: "b"): scalars!.append("\u{8}")
            case UInt8(ascii: "f"): scalars!.append("\u{C}")
            case UInt8(ascii: "n"): scalars!.append("\n")
            case UInt8(ascii: "r"): scalars!.append("\r")
            case UInt8(ascii: "t"): scalars!.append("\t")
            case UInt8(ascii: "u"):
                guard var code = hex4() else { return nil }
                if (0xD800...0xDBFF).contains(code) {
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else { return nil }
                    i += 2
                    guard let low = hex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
                    code = 0x10000 + (code - 0xD800) << 10 + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(code) {
                    return nil
                }
                guard let scalar = Unicode.Scalar(code) else { return nil }
                scalars!.append(scalar)
            default: return nil
            }
            run = i
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard i + 4 <= bytes.count else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let d = PercentDecoding.hexValue(bytes[i + k]) else { return nil }
            v = v << 4 | UInt32(d)
        }
        i += 4
        return v
    }

    private mutating func number() -> Any? {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, (48...57).contains(bytes[i]) else { return nil }
        if bytes[i] == 48, i + 1 < bytes.count, (48...57).contains(bytes[i + 1]) { return nil }  // no leading zeros
        while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
        var integral = true
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard i < bytes.count, (48...57).contains(bytes[i]) else { return nil }
            while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, (48...57).contains(bytes[i]) else { return nil }
            while i < bytes.count, (48...57).contains(bytes[i]) { i += 1 }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if integral, let n = Int(text) { return n }
        return Double(text)
    }
}
