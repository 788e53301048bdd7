import KeywardCrypto

/// Text that people read (names, notes, listings, the audit): every character shows as itself.
///
/// C0 and C1 controls can move a terminal's cursor or start an escape sequence (U+009B is CSI);
/// line and paragraph separators break a line where none is seen; format characters (bidi
/// overrides such as U+202E, zero-width joiners) reorder or hide what is written. Names and notes
/// refuse them; every text output escapes them, since paths and old rows can still carry them.
public enum PrintableText {
    /// True for a character that would not show as itself.
    /// (The JSON writer escapes the same characters: this is `JSON.hides`.)
    public static func hides(_ c: Unicode.Scalar) -> Bool { JSON.hides(c) }

    /// True when no character of `text` hides.
    public static func isPrintable(_ text: some StringProtocol) -> Bool {
        !text.unicodeScalars.contains(where: hides)
    }

    /// `text` with each hiding character written as `\u{85}`; newlines kept when asked (the line
    /// structure of a listing). Printable text comes back unchanged.
    public static func escaped(_ text: String, keepingNewlines: Bool = false) -> String {
        guard text.unicodeScalars.contains(where: { hides($0) && !(keepingNewlines && $0 == "\n") }) else { return text }
        var out = String.UnicodeScalarView()
        for c in text.unicodeScalars {
            if hides(c) && !(keepingNewlines && c == "\n") {
                out.append(contentsOf: "\\u{\(String(c.value, radix: 16))}".unicodeScalars)
            } else {
                out.append(c)
            }
        }
        return String(out)
    }
}
