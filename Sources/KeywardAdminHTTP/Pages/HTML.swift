/// The one HTML writer of the admin pages. Tag and attribute names are `StaticString`s, so no
/// handler can build a tag from data; every text and attribute value passes through `escape`.
/// There is no way to write unescaped markup from a `String`.
///
///     var html = HTML()
///     html.element("p", ["class": "hint"]) { html in html.text(user.name) }
struct HTML {
    /// The markup written so far.
    private(set) var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(8_192) }

    /// One attribute: a name and a value, or a boolean attribute when the value is nil.
    struct Attribute: ExpressibleByStringLiteral {
        let name: StaticString
        let value: String?
        init(_ name: StaticString, _ value: String?) {
            self.name = name
            self.value = value
        }
        /// A boolean attribute (`required`, `disabled`).
        init(stringLiteral name: StaticString) {
            self.name = name
            value = nil
        }
    }

    /// `<name attributes>content</name>`.
    mutating func element(_ name: StaticString, _ attributes: [Attribute] = [], _ content: (inout HTML) -> Void) {
        open(name, attributes)
        content(&self)
        close(name)
    }

    /// `<name attributes>text</name>`.
    mutating func element(_ name: StaticString, _ attributes: [Attribute] = [], text: String) {
        open(name, attributes)
        self.text(text)
        close(name)
    }

    /// A void element (`input`, `meta`, `link`, `br`): no content, no end tag.
    mutating func void(_ name: StaticString, _ attributes: [Attribute] = []) {
        open(name, attributes)
    }

    /// Appends markup another writer made (a page's content into the layout).
    mutating func append(_ other: HTML) {
        bytes += other.bytes
    }

    /// Text content, escaped.
    mutating func text(_ text: String) {
        Self.escape(text, into: &bytes)
    }

    /// A fixed piece of markup from the source code (`&nbsp;`, a doctype): never data.
    mutating func markup(_ fixed: StaticString) {
        bytes.append(contentsOf: fixed.description.utf8)
    }

    private mutating func open(_ name: StaticString, _ attributes: [Attribute]) {
        bytes.append(UInt8(ascii: "<"))
        markup(name)
        for attribute in attributes {
            bytes.append(UInt8(ascii: " "))
            markup(attribute.name)
            guard let value = attribute.value else { continue }
            bytes.append(contentsOf: [UInt8(ascii: "="), UInt8(ascii: "\"")])
            Self.escape(value, into: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: ">"))
    }

    private mutating func close(_ name: StaticString) {
        bytes.append(contentsOf: [UInt8(ascii: "<"), UInt8(ascii: "/")])
        markup(name)
        bytes.append(UInt8(ascii: ">"))
    }

    /// Escapes for text and for double- or single-quoted attribute values alike (HTML §13.1.2.6):
    /// `& < > " '`. Control characters other than tab and newline become U+FFFD, so a value
    /// cannot smuggle what the page would not show.
    static func escape(_ text: String, into out: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&#39;".utf8)
            case 0x00..<0x09, 0x0B, 0x0C, 0x0E..<0x20, 0x7F: out.append(contentsOf: [0xEF, 0xBF, 0xBD])
            default: out.append(byte)
            }
        }
    }

    /// `text` escaped, as a string (for tests).
    static func escaped(_ text: String) -> String {
        var out: [UInt8] = []
        escape(text, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
