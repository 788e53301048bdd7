/// Text encodings for keys and secrets: base62 (credential shapes), base64 / base64url (key file, JWTs).
public enum Base62 {
    /// The 62 symbols in ASCII order, as GitHub's token format uses them.
    public static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// True for `[0-9A-Za-z]`.
    @inlinable public static func isSymbol(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
    }

    /// `count` uniformly random base62 symbols, by rejection sampling of random bytes (no modulo bias).
    public static func random(count: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            for b in SecureRandom.bytes(count + 8) where b < 248 && out.count < count {
                out.append(alphabet[Int(b % 62)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when `bytes[from...]` is `value` in base62, left-padded to the rest's length, without
    /// building a string or copying the bytes.
    public static func matches(_ value: UInt64, _ bytes: Span<UInt8>, from start: Int) -> Bool {
        var v = value
        var i = bytes.count
        while i > start {
            i -= 1
            if bytes[i] != alphabet[Int(v % 62)] { return false }
            v /= 62
        }
        return v == 0
    }

    /// True when `symbols` is `value` in base62, left-padded to `width`, without building a string.
    public static func matches(_ value: UInt64, width: Int, _ symbols: some BidirectionalCollection<UInt8>) -> Bool {
        guard symbols.count == width else { return false }
        var v = value
        for symbol in symbols.reversed() {
            if symbol != alphabet[Int(v % 62)] { return false }
            v /= 62
        }
        return v == 0
    }

    /// `value` in base62, left-padded with "0" to `width` symbols.
    public static func encode(_ value: UInt64, width: Int) -> String {
        var digits: [UInt8] = []
        var v = value
        repeat {
            digits.append(alphabet[Int(v % 62)])
            v /= 62
        } while v > 0
        while digits.count < width { digits.append(alphabet[0]) }
        return String(decoding: digits.reversed(), as: UTF8.self)
    }
}

/// RFC 4648 base64, standard (§4) and URL-safe without padding (§5).
public enum Base64 {
    private static let standard: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            for shift in [18, 12, 6, 0] { out.append(standard[Int(n >> UInt32(shift) & 63)]) }
            i += 3
        }
        let rest = bytes.count - i
        if rest > 0 {
            let n = UInt32(bytes[i]) << 16 | (rest == 2 ? UInt32(bytes[i + 1]) << 8 : 0)
            out.append(standard[Int(n >> 18 & 63)])
            out.append(standard[Int(n >> 12 & 63)])
            out.append(rest == 2 ? standard[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(UInt8(ascii: "="))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes standard base64 (padding optional); nil on any symbol outside the alphabet.
    public static func decode(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): values.append(c - 65)
            case UInt8(ascii: "a")...UInt8(ascii: "z"): values.append(c - 97 + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(c - 48 + 52)
            case UInt8(ascii: "+"), UInt8(ascii: "-"): values.append(62)
            case UInt8(ascii: "/"), UInt8(ascii: "_"): values.append(63)
            case UInt8(ascii: "="): continue
            default: return nil
            }
        }
        if values.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < values.count {
            let chunk = values[i..<min(i + 4, values.count)]
            var n: UInt32 = 0
            for (j, v) in chunk.enumerated() { n |= UInt32(v) << UInt32(18 - 6 * j) }
            out.append(UInt8(n >> 16 & 0xFF))
            if chunk.count > 2 { out.append(UInt8(n >> 8 & 0xFF)) }
            if chunk.count > 3 { out.append(UInt8(n & 0xFF)) }
            i += 4
        }
        return out
    }
}

/// Lower-case hexadecimal.
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// `bytes` as lower-case hex.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex (either case); nil on odd length or a non-hex symbol.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 65...70: c - 55
            case 97...102: c - 87
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = value(chars[i]), let lo = value(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
