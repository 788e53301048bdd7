/// Percent-decoding (RFC 3986 §2.1) without interpretation.
public enum PercentDecoding {
    /// Decodes `%XX` escapes (and `+` as space when asked); nil on a broken escape.
    public static func decode(_ text: Substring, plusAsSpace: Bool = false) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var it = text.utf8.makeIterator()
        while let c = it.next() {
            if c == UInt8(ascii: "%") {
                guard let h = it.next().flatMap(hexValue), let l = it.next().flatMap(hexValue) else { return nil }
                out.append(h << 4 | l)
            } else if plusAsSpace && c == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 65...70: c - 55
        case 97...102: c - 87
        default: nil
        }
    }
}

/// Keyward's readings of a request path: the strict one of a raw request target, and the check of
/// a path the server has already normalised (`AUTH_PATH`).
///
/// The rule behind both: a path is judged only when every party that acts on it (the web server
/// that picks the location, Keyward, and whatever backend serves it) reads the same path from it.
/// Servlet containers drop path parameters (`;jsessionid=1`) from each segment and then resolve dot
/// segments, so `/api/reports/;/../other` is `/api/reports/other` to nginx and `/api/other` to
/// Tomcat; some applications decode twice; some backends treat `\` as a separator. Rather than
/// guess the backend, Keyward refuses the targets on which backends disagree: path parameters,
/// dot segments in the raw target (clients remove them before sending, RFC 3986 §5.2.4; only a
/// hand-made request carries one), encoded separators, backslashes, double encoding.
public enum PathNormalizer {
    /// Why a path was refused.
    public enum Refusal: Error, Sendable, Equatable {
        case notAbsolute, tooLong, badEscape, encodedSeparator, backslash, controlByte, invalidUTF8
        /// A `;` (or `%3B`) in the path: servlet containers strip `;…` from each segment before
        /// resolving dots, other backends keep it, so its meaning depends on the backend.
        case pathParameters
        /// A `.` or `..` segment (or `%2e` spelling) in the raw target: backends differ on whether
        /// and when they resolve it.
        case dotSegment
        /// A `%25` that decodes to another escape (`%252F`): an application that decodes again
        /// would read a different path.
        case doubleEncoding
    }

    /// The path a check judges: the server's normalised `serverPath` when it gives one (that is
    /// the path its location was chosen by), else the strict reading of `requestURI`. Whenever
    /// the raw target is known it must read unambiguously too: the backend may act on it as sent.
    public static func checkedPath(serverPath: String?, requestURI: String?, limits: Limits) -> Result<String, Refusal> {
        guard let serverPath else {
            return normalize(requestURI: requestURI ?? "/", limits: limits)
        }
        if let requestURI, case .failure(let refusal) = normalize(requestURI: requestURI, limits: limits) {
            return .failure(refusal)
        }
        return normalize(serverPath: serverPath, limits: limits)
    }

    /// The strict reading of a raw request target (origin or absolute form; query cut off):
    /// percent-decoded once, empty segments merged, and refused when backends could read it
    /// differently (see the type's comment).
    public static func normalize(requestURI raw: String, limits: Limits) -> Result<String, Refusal> {
        let end = raw.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) ?? raw.endIndex
        guard let target = originForm(raw[..<end]) else { return .failure(.notAbsolute) }
        guard target.utf8.count <= limits.maxPathBytes else { return .failure(.tooLong) }
        if isPlain(target.utf8) { return .success(String(target)) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(target.utf8.count)
        var it = target.utf8.makeIterator()
        while let c = it.next() {
            switch c {
            case UInt8(ascii: "%"):
                guard let h = it.next().flatMap(PercentDecoding.hexValue),
                    let l = it.next().flatMap(PercentDecoding.hexValue)
                else { return .failure(.badEscape) }
                let byte = h << 4 | l
                if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") || byte == 0 { return .failure(.encodedSeparator) }
                if byte == UInt8(ascii: ";") { return .failure(.pathParameters) }
                decoded.append(byte)
            case UInt8(ascii: "\\"): return .failure(.backslash)
            case UInt8(ascii: ";"): return .failure(.pathParameters)
            default: decoded.append(c)
            }
        }
        if hasEscape(decoded) { return .failure(.doubleEncoding) }
        return resolve(decoded, dotSegments: .refuse)
    }

    /// Checks and tidies a path the server has already decoded and normalised (`AUTH_PATH`).
    ///
    /// The server did the decoding; Keyward still refuses what it would refuse in its own reading
    /// (backslash, `;`, NUL, controls, invalid UTF-8) and resolves dot segments again, so a
    /// misconfigured server cannot widen a scope.
    public static func normalize(serverPath: String, limits: Limits) -> Result<String, Refusal> {
        normalize(serverPath: serverPath, maxBytes: limits.maxPathBytes)
    }

    /// `normalize(serverPath:limits:)` with the length bound given (nil: none, for stored scopes,
    /// whose length their writers bound).
    public static func normalize(serverPath: String, maxBytes: Int?) -> Result<String, Refusal> {
        if let maxBytes, serverPath.utf8.count > maxBytes { return .failure(.tooLong) }
        guard serverPath.utf8.first == UInt8(ascii: "/") else { return .failure(.notAbsolute) }
        if isPlain(serverPath.utf8) { return .success(serverPath) }
        if serverPath.utf8.contains(UInt8(ascii: "\\")) { return .failure(.backslash) }
        if serverPath.utf8.contains(UInt8(ascii: ";")) { return .failure(.pathParameters) }
        return resolve(Array(serverPath.utf8), dotSegments: .resolve)
    }

    /// The path of an origin-form (`/p`) or absolute-form (`http://host/p`, RFC 9112 §3.2.2) target.
    public static func originForm(_ target: Substring) -> Substring? {
        if target.utf8.first == UInt8(ascii: "/") { return target }
        for scheme in ["http://", "https://"]
        where target.utf8.count >= scheme.utf8.count
            && zip(target.utf8, scheme.utf8).allSatisfy({ $0 | 0x20 == $1 | 0x20 })
        {
            let authority = target.utf8.index(target.startIndex, offsetBy: scheme.utf8.count)
            return target[authority...].firstIndex(of: "/").map { target[$0...] } ?? "/"
        }
        return nil
    }

    /// True when a path is already in normal form: printable ASCII without `%`, `\\`, `;`, empty,
    /// `.` or `..` segments. Most requests are; they skip the general path.
    static func isPlain(_ path: some Collection<UInt8>) -> Bool {
        var previous: UInt8 = 0
        var dots = 0
        for c in path {
            guard c > 0x20, c < 0x7F, c != UInt8(ascii: "%"), c != UInt8(ascii: "\\"), c != UInt8(ascii: ";") else { return false }
            if c == UInt8(ascii: "/") {
                if previous == UInt8(ascii: "/") || dots > 0 { return false }
            } else if c == UInt8(ascii: ".") {
                if previous == UInt8(ascii: "/") || (dots > 0 && previous == UInt8(ascii: ".")) { dots += 1 } else { dots = 0 }
            } else {
                dots = 0
            }
            previous = c
        }
        return dots == 0
    }

    /// True when the bytes still hold a `%XX` escape.
    private static func hasEscape(_ bytes: [UInt8]) -> Bool {
        var i = bytes.startIndex
        while let p = bytes[i...].firstIndex(of: UInt8(ascii: "%")) {
            if p + 2 < bytes.endIndex, PercentDecoding.hexValue(bytes[p + 1]) != nil, PercentDecoding.hexValue(bytes[p + 2]) != nil {
                return true
            }
            i = p + 1
        }
        return false
    }

    private enum DotSegments { case refuse, resolve }

    private static func resolve(_ path: [UInt8], dotSegments: DotSegments) -> Result<String, Refusal> {
        if path.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return .failure(.controlByte) }
        guard let text = String(validating: path, as: UTF8.self) else { return .failure(.invalidUTF8) }
        if text.unicodeScalars.contains(where: { (0x80..<0xA0).contains($0.value) }) { return .failure(.controlByte) }  // C1
        var segments: [Substring] = []
        for segment in text.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".", "..":
                if dotSegments == .refuse { return .failure(.dotSegment) }
                if segment == ".." { _ = segments.popLast() }
            default: segments.append(segment)
            }
        }
        let last = text.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        let trailingSlash = text.hasSuffix("/") || last == "." || last == ".."
        var out = "/" + segments.joined(separator: "/")
        if trailingSlash && !segments.isEmpty { out += "/" }
        return .success(out)
    }
}
