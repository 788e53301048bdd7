import KeywardCrypto

/// The part of RFC 8941 (Structured Field Values for HTTP) that HTTP message signatures use:
/// dictionaries whose members are items or inner lists, with parameters; bare items that are
/// integers, strings, tokens, byte sequences and booleans. Decimals, dates and display strings
/// (RFC 9651) are refused: no signature field needs them.
///
/// Parsing follows RFC 8941 §4.2 to the letter and refuses what it refuses, and is stricter in
/// one way on purpose: a dictionary key or a parameter key given twice is refused instead of the
/// last one winning (§4.2.2, §4.2.3.2), because two parsers reading a signature field must not be
/// able to disagree on which value counts.
public enum StructuredFields {
    /// Why a field did not parse: a fixed phrase and the byte offset where parsing stopped.
    public struct Malformed: Error, Sendable, Equatable, CustomStringConvertible {
        /// What was wrong, in a few words.
        public var reason: String
        /// Offset into the field value, in bytes.
        public var offset: Int
        /// `reason at offset N`.
        public var description: String { "\(reason) at offset \(offset)" }
    }

    /// Integers have at most 15 digits (RFC 8941 §3.3.1).
    public static let maxIntegerDigits = 15

    /// Parses a Dictionary field value (RFC 8941 §4.2, §4.2.2).
    public static func parseDictionary(_ text: String) throws(Malformed) -> [SFDictionaryMember] {
        var parser = Parser(Array(text.utf8))
        return try parser.wholeDictionary()
    }

    /// Parses an Item field value (RFC 8941 §4.2, §4.2.3).
    public static func parseItem(_ text: String) throws(Malformed) -> SFItem {
        var parser = Parser(Array(text.utf8))
        parser.skipSpaces()
        let item = try parser.item()
        parser.skipSpaces()
        guard parser.atEnd else { throw parser.fail("trailing characters") }
        return item
    }
}

/// A bare item (RFC 8941 §3.3), the subset signatures use.
public enum SFBareItem: Sendable, Equatable {
    /// An integer of at most 15 digits (§3.3.1).
    case integer(Int64)
    /// Printable ASCII (§3.3.3).
    case string(String)
    /// A token (§3.3.4).
    case token(String)
    /// A byte sequence (§3.3.5).
    case bytes([UInt8])
    /// A boolean (§3.3.6).
    case boolean(Bool)

    /// The serialisation (RFC 8941 §4.1.3.1).
    public var serialized: String {
        var out: [UInt8] = []
        serialize(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the serialisation to `out` (it runs for every signature verified).
    func serialize(into out: inout [UInt8]) {
        switch self {
        case .integer(let n): out += String(n).utf8
        case .string(let s):
            out.append(UInt8(ascii: "\""))
            for c in s.utf8 {
                if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(c)
            }
            out.append(UInt8(ascii: "\""))
        case .token(let t): out += t.utf8
        case .bytes(let b):
            out.append(UInt8(ascii: ":"))
            out += Base64.encode(b).utf8
            out.append(UInt8(ascii: ":"))
        case .boolean(let v): out += (v ? "?1" : "?0").utf8
        }
    }
}

/// One parameter of an item or inner list (RFC 8941 §3.1.2), in the order given.
public struct SFParameter: Sendable, Equatable {
    /// Its key.
    public var key: String
    /// Its value; `true` when the key stood alone.
    public var value: SFBareItem

    /// A parameter from its parts.
    public init(_ key: String, _ value: SFBareItem) {
        self.key = key
        self.value = value
    }
}

extension StructuredFields {
    /// Parameters, serialised (RFC 8941 §4.1.1.2): `;key=value` each, a true boolean as the bare key.
    public static func serialize(_ parameters: [SFParameter]) -> String {
        var out: [UInt8] = []
        serialize(parameters, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func serialize(_ parameters: [SFParameter], into out: inout [UInt8]) {
        for p in parameters {
            out.append(UInt8(ascii: ";"))
            out += p.key.utf8
            if p.value != .boolean(true) {
                out.append(UInt8(ascii: "="))
                p.value.serialize(into: &out)
            }
        }
    }
}

/// An item: a bare item with parameters (RFC 8941 §3.3).
public struct SFItem: Sendable, Equatable {
    /// The bare item.
    public var value: SFBareItem
    /// Its parameters, in order.
    public var parameters: [SFParameter]

    /// An item from its parts.
    public init(_ value: SFBareItem, parameters: [SFParameter] = []) {
        self.value = value
        self.parameters = parameters
    }

    /// The serialisation (RFC 8941 §4.1.3).
    public var serialized: String {
        var out: [UInt8] = []
        serialize(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func serialize(into out: inout [UInt8]) {
        value.serialize(into: &out)
        StructuredFields.serialize(parameters, into: &out)
    }
}

/// An inner list: items in parentheses, then parameters (RFC 8941 §3.1.1).
public struct SFInnerList: Sendable, Equatable {
    /// The items, in order.
    public var items: [SFItem]
    /// The list's own parameters, in order.
    public var parameters: [SFParameter]

    /// An inner list from its parts.
    public init(_ items: [SFItem], parameters: [SFParameter] = []) {
        self.items = items
        self.parameters = parameters
    }

    /// The serialisation (RFC 8941 §4.1.1.1): items separated by one space.
    public var serialized: String {
        var out: [UInt8] = [UInt8(ascii: "(")]
        out.reserveCapacity(128)
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(UInt8(ascii: " ")) }
            item.serialize(into: &out)
        }
        out.append(UInt8(ascii: ")"))
        StructuredFields.serialize(parameters, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

/// One member of a dictionary, in the order given.
public struct SFDictionaryMember: Sendable, Equatable {
    /// What a member holds.
    public enum Value: Sendable, Equatable {
        case item(SFItem)
        case innerList(SFInnerList)
    }

    /// Its key.
    public var key: String
    /// Its value.
    public var value: Value
}

/// RFC 8941 §4.2 over the bytes of a field value.
private struct Parser {
    let input: [UInt8]
    var i = 0

    init(_ input: [UInt8]) { self.input = input }

    var atEnd: Bool { i >= input.count }
    var current: UInt8? { i < input.count ? input[i] : nil }

    func fail(_ reason: String) -> StructuredFields.Malformed {
        StructuredFields.Malformed(reason: reason, offset: i)
    }

    mutating func skipSpaces() {
        while current == 0x20 { i += 1 }
    }

    mutating func skipOptionalWhitespace() {
        while current == 0x20 || current == 0x09 { i += 1 }
    }

    /// §4.2: leading and trailing spaces discarded, nothing else left over; §4.2.2.
    mutating func wholeDictionary() throws(StructuredFields.Malformed) -> [SFDictionaryMember] {
        skipSpaces()
        var members: [SFDictionaryMember] = []
        while !atEnd {
            let keyStart = i
            let key = try self.key()
            guard !members.contains(where: { $0.key == key }) else {
                throw StructuredFields.Malformed(reason: "dictionary key \(key) repeated", offset: keyStart)
            }
            let value: SFDictionaryMember.Value
            if current == UInt8(ascii: "=") {
                i += 1
                value = current == UInt8(ascii: "(") ? .innerList(try innerList()) : .item(try item())
            } else {
                value = .item(SFItem(.boolean(true), parameters: try parameters()))
            }
            members.append(SFDictionaryMember(key: key, value: value))
            skipOptionalWhitespace()
            if atEnd { break }
            guard current == UInt8(ascii: ",") else { throw fail("expected a comma between members") }
            i += 1
            skipOptionalWhitespace()
            if atEnd { throw fail("trailing comma") }
        }
        skipSpaces()
        return members
    }

    /// §4.2.1.2.
    mutating func innerList() throws(StructuredFields.Malformed) -> SFInnerList {
        guard current == UInt8(ascii: "(") else { throw fail("expected an inner list") }
        i += 1
        var items: [SFItem] = []
        while !atEnd {
            skipSpaces()
            if current == UInt8(ascii: ")") {
                i += 1
                return SFInnerList(items, parameters: try parameters())
            }
            items.append(try item())
            guard let c = current, c == 0x20 || c == UInt8(ascii: ")") else {
                throw fail("expected a space or ) after an inner list item")
            }
        }
        throw fail("inner list not closed")
    }

    /// §4.2.3.
    mutating func item() throws(StructuredFields.Malformed) -> SFItem {
        let value = try bareItem()
        return SFItem(value, parameters: try parameters())
    }

    /// §4.2.3.1, without decimals, dates and display strings.
    mutating func bareItem() throws(StructuredFields.Malformed) -> SFBareItem {
        guard let c = current else { throw fail("expected an item") }
        switch c {
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try integer()
        case UInt8(ascii: "\""): return try string()
        case UInt8(ascii: "*"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"): return token()
        case UInt8(ascii: ":"): return try byteSequence()
        case UInt8(ascii: "?"): return try boolean()
        default: throw fail("unsupported item type")
        }
    }

    /// §4.2.3.2; a parameter key given twice is refused.
    mutating func parameters() throws(StructuredFields.Malformed) -> [SFParameter] {
        var out: [SFParameter] = []
        while current == UInt8(ascii: ";") {
            i += 1
            skipSpaces()
            let keyStart = i
            let key = try self.key()
            guard !out.contains(where: { $0.key == key }) else {
                throw StructuredFields.Malformed(reason: "parameter \(key) repeated", offset: keyStart)
            }
            var value = SFBareItem.boolean(true)
            if current == UInt8(ascii: "=") {
                i += 1
                value = try bareItem()
            }
            out.append(SFParameter(key, value))
        }
        return out
    }

    /// §4.2.3.3: `(lcalpha / "*") *(lcalpha / DIGIT / "_" / "-" / "." / "*")`.
    mutating func key() throws(StructuredFields.Malformed) -> String {
        guard let c = current, Self.isLowerAlpha(c) || c == UInt8(ascii: "*") else { throw fail("expected a key") }
        let start = i
        i += 1
        while let c = current,
            Self.isLowerAlpha(c) || Self.isDigit(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "*")
        {
            i += 1
        }
        return String(decoding: input[start..<i], as: UTF8.self)
    }

    /// §4.2.4, integers only: a decimal point is refused.
    mutating func integer() throws(StructuredFields.Malformed) -> SFBareItem {
        var negative = false
        if current == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        guard let first = current, Self.isDigit(first) else { throw fail("expected a digit") }
        var value: Int64 = 0
        var digits = 0
        while let c = current, Self.isDigit(c) {
            digits += 1
            guard digits <= StructuredFields.maxIntegerDigits else { throw fail("integer too long") }
            value = value * 10 + Int64(c - UInt8(ascii: "0"))
            i += 1
        }
        if current == UInt8(ascii: ".") { throw fail("decimals are not supported") }
        return .integer(negative ? -value : value)
    }

    /// §4.2.5: printable ASCII, `\"` and `\\` the only escapes.
    mutating func string() throws(StructuredFields.Malformed) -> SFBareItem {
        i += 1
        // Most strings have no escape: take them as they stand.
        var end = i
        while end < input.count, input[end] >= 0x20, input[end] <= 0x7E, input[end] != UInt8(ascii: "\\"),
            input[end] != UInt8(ascii: "\"")
        {
            end += 1
        }
        if end < input.count, input[end] == UInt8(ascii: "\"") {
            defer { i = end + 1 }
            return .string(String(decoding: input[i..<end], as: UTF8.self))
        }
        var out: [UInt8] = []
        while let c = current {
            i += 1
            switch c {
            case UInt8(ascii: "\\"):
                guard let next = current, next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") else {
                    throw fail("invalid escape in a string")
                }
                out.append(next)
                i += 1
            case UInt8(ascii: "\""):
                return .string(String(decoding: out, as: UTF8.self))
            case 0x20...0x7E:
                out.append(c)
            default:
                throw fail("invalid character in a string")
            }
        }
        throw fail("string not closed")
    }

    /// §4.2.6: `(ALPHA / "*") *(tchar / ":" / "/")`.
    mutating func token() -> SFBareItem {
        let start = i
        i += 1
        while let c = current, Self.isTokenCharacter(c) || c == UInt8(ascii: ":") || c == UInt8(ascii: "/") { i += 1 }
        return .token(String(decoding: input[start..<i], as: UTF8.self))
    }

    /// §4.2.7: base64 (RFC 4648 §4) between colons. Missing padding and non-zero pad bits are
    /// accepted, as §4.2.7 asks; any symbol outside the alphabet, or `=` before the end, is not.
    mutating func byteSequence() throws(StructuredFields.Malformed) -> SFBareItem {
        i += 1
        let start = i
        while let c = current, c != UInt8(ascii: ":") {
            guard Self.isAlpha(c) || Self.isDigit(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: "/") || c == UInt8(ascii: "=") else {
                throw fail("invalid character in a byte sequence")
            }
            i += 1
        }
        guard current == UInt8(ascii: ":") else { throw fail("byte sequence not closed") }
        let symbols = input[start..<i]
        i += 1
        var body = symbols[...]
        while body.last == UInt8(ascii: "=") { body = body.dropLast() }
        guard symbols.count - body.count <= 2, !body.contains(UInt8(ascii: "=")), body.count % 4 != 1,
            symbols.count == body.count || symbols.count % 4 == 0,
            let bytes = Base64.decode(String(decoding: body, as: UTF8.self))
        else { throw StructuredFields.Malformed(reason: "invalid base64 in a byte sequence", offset: start) }
        return .bytes(bytes)
    }

    /// §4.2.8.
    mutating func boolean() throws(StructuredFields.Malformed) -> SFBareItem {
        i += 1
        switch current {
        case UInt8(ascii: "1"):
            i += 1
            return .boolean(true)
        case UInt8(ascii: "0"):
            i += 1
            return .boolean(false)
        default: throw fail("invalid boolean")
        }
    }

    static func isLowerAlpha(_ c: UInt8) -> Bool { c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") }
    static func isAlpha(_ c: UInt8) -> Bool { isLowerAlpha(c) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z")) }
    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    /// RFC 9110 §5.6.2 tchar.
    static func isTokenCharacter(_ c: UInt8) -> Bool {
        if isAlpha(c) || isDigit(c) { return true }
        switch c {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default: return false
        }
    }
}
