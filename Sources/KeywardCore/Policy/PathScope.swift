/// One path scope of a credential: a path prefix, optionally limited to some methods.
///
/// Written `/api/reports/` or `GET,HEAD:/api/reports/`. A prefix matches on segment boundaries:
/// `/api/r` matches `/api/r` and `/api/r/x` but never `/api/rx`. `GET` also allows `HEAD`.
public struct PathScope: Sendable, Equatable, CustomStringConvertible {
    /// Upper-case methods; empty means every method.
    public let methods: [String]
    /// The normalised prefix, always starting with `/`.
    public let prefix: String

    /// Parses a scope as written on the command line; nil when it is not one.
    public init?(_ text: String) {
        var methods: [String] = []
        var path = Substring(text)
        if let colon = text.firstIndex(of: ":"), text.first != "/" {
            methods = text[..<colon].split(separator: ",").map { $0.uppercased() }
            guard !methods.isEmpty,
                methods.allSatisfy({ m in
                    !m.isEmpty && m.utf8.allSatisfy { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }
                })
            else { return nil }
            path = text[text.index(after: colon)...]
        }
        // One scope must read as one everywhere it is shown: `X-Auth-Scopes` joins scopes with
        // spaces, and backends split header lists on commas.
        guard !path.unicodeScalars.contains(where: Self.separatesOrHides) else { return nil }
        guard case .success(let normal) = PathNormalizer.normalize(serverPath: String(path), maxBytes: nil),
            normal.utf8.elementsEqual(path.utf8) || (normal + "/").utf8.elementsEqual(path.utf8)
                || normal.utf8.elementsEqual((path + "/").utf8)
        else { return nil }
        self.methods = methods
        self.prefix = String(path)
        self.description = methods.isEmpty ? prefix : methods.joined(separator: ",") + ":" + prefix
    }

    /// A scope from a prefix and the methods allowed under it (none: every method), as resources
    /// store them; nil when it is not one (methods are upper-case names, the prefix normal).
    public init?(prefix: String, methods: [String]) {
        guard prefix.hasPrefix("/") else { return nil }
        self.init(methods.isEmpty ? prefix : methods.joined(separator: ",") + ":" + prefix)
    }

    /// Characters no scope may hold: commas, whitespace of any kind, and control and format
    /// characters (C0, C1, bidi overrides), which would split it or hide what it says.
    static func separatesOrHides(_ c: Unicode.Scalar) -> Bool {
        c == "," || c.properties.isWhitespace || PrintableText.hides(c)
    }

    /// True when `path` lies under the prefix.
    ///
    /// Compared byte for byte: Swift's `==` and `hasPrefix` treat canonically equivalent Unicode
    /// (NFC `é` and NFD `e\u{301}`) as equal, while web servers and file systems do not.
    public func covers(path: String) -> Bool {
        let p = path.utf8, s = prefix.utf8
        let slash = UInt8(ascii: "/")
        if s.count == 1 { return true }
        if s.last == slash {
            return p.starts(with: s) || (p.count == s.count - 1 && s.starts(with: p))
        }
        guard p.starts(with: s) else { return false }
        return p.count == s.count || p[p.index(p.startIndex, offsetBy: s.count)] == slash
    }

    /// True when everything this scope allows, `outer` allows too: a prefix at or below
    /// `outer`'s, and methods that `outer` allows (used to narrow a token's scope).
    public func isWithin(_ outer: PathScope) -> Bool {
        guard outer.covers(path: prefix) else { return false }
        if outer.methods.isEmpty { return true }
        return !methods.isEmpty && methods.allSatisfy { outer.allows(method: $0) }
    }

    /// True when `method` is allowed (every method when none is named; GET implies HEAD).
    public func allows(method: String) -> Bool {
        methods.isEmpty || methods.contains(method) || (method == "HEAD" && methods.contains("GET"))
    }

    /// As written, `GET,HEAD:/prefix/`; kept, since every allowed check reports it.
    public let description: String
}
