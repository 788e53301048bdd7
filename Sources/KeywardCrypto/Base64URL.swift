/// RFC 4648 §5 base64url without padding: the encoding of every JOSE member and JWT segment.
///
/// Decoding is strict so that each byte string has exactly one accepted text (RFC 7515 §2 and
/// Appendix C): padding, the standard alphabet's `+` and `/`, whitespace, a length of 4k + 1 and
/// non-zero unused trailing bits (RFC 4648 §3.5) are all refused. A lenient decoder would let one
/// signature or key id have several spellings, which breaks revocation lists and caches keyed by text.
public enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// `bytes` as base64url without padding.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        switch bytes.count - i {
        case 1:
            let n = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
        case 2:
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
        default: break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The UTF-8 form of `text` as base64url without padding.
    public static func encode(_ text: String) -> String {
        encode(Array(text.utf8))
    }

    /// Decodes canonical unpadded base64url; nil on anything else.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        decode(symbols: text.utf8)
    }

    /// Decodes canonical unpadded base64url from its ASCII symbols (a JWT segment, without copying
    /// it into a string first); nil on anything else. Not generic across the module boundary, so
    /// the callers' loop is specialised here (a generic one runs each byte through witnesses).
    public static func decode(symbols: ArraySlice<UInt8>) -> [UInt8]? {
        decoded(symbols.span)
    }

    /// `decode(symbols:)` for any collection of symbols.
    public static func decode<Symbols: Collection<UInt8>>(symbols: Symbols) -> [UInt8]? {
        decoded(Array(symbols).span)
    }

    /// Reads the symbols through a span and writes the bytes into the array's own storage (an
    /// output span): no per-byte witness or growth check, and no unsafe pointer.
    private static func decoded(_ symbols: Span<UInt8>) -> [UInt8]? {
        let count = symbols.count
        guard count % 4 != 1 else { return nil }
        let table = table.span
        var valid = true
        let out = [UInt8](capacity: count / 4 * 3 + (count % 4 == 0 ? 0 : count % 4 - 1)) { out in
            var n: UInt32 = 0
            for i in 0..<count {
                let v = table[Int(symbols[i])]
                if v == 0xFF {
                    valid = false
                    return
                }
                n = n << 6 | UInt32(v)
                if i & 3 == 3 {
                    out.append(UInt8(truncatingIfNeeded: n >> 16))
                    out.append(UInt8(truncatingIfNeeded: n >> 8))
                    out.append(UInt8(truncatingIfNeeded: n))
                    n = 0
                }
            }
            switch count & 3 {
            case 2:
                // 12 bits carry one byte; the low 4 must be zero.
                guard n & 0xF == 0 else {
                    valid = false
                    return
                }
                out.append(UInt8(truncatingIfNeeded: n >> 4))
            case 3:
                // 18 bits carry two bytes; the low 2 must be zero.
                guard n & 0x3 == 0 else {
                    valid = false
                    return
                }
                out.append(UInt8(truncatingIfNeeded: n >> 10))
                out.append(UInt8(truncatingIfNeeded: n >> 2))
            default: break
            }
        }
        return valid ? out : nil
    }

    /// Symbol values, 0xFF for bytes outside the URL-safe alphabet.
    private static let table: [UInt8] = (0..<256).map { value(UInt8($0)) ?? 0xFF }

    @inline(__always) private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): c &- 65
        case UInt8(ascii: "a")...UInt8(ascii: "z"): c &- 97 &+ 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c &- 48 &+ 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }
}
