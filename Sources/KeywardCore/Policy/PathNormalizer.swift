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

/// Keyward's own strict normalisation of a raw request target, for servers that pass no
/// normalised path (lighttpd) or deployments that do not set `AUTH_PATH`.
///
/// Percent-decodes once, refuses encoded `/`, `\` and NUL, a literal backslash, control bytes,
/// broken escapes and invalid UTF-8, merges empty segments, and resolves `.` / `..`
/// (RFC 3986 §5.2.4) without ever climbing above the root. A query or fragment is cut first.
public enum PathNormalizer {
    /// Why a path was refused.
    public enum Refusal: Error, Sendable, Equatable {
        case notAbsolute, tooLong, badEscape, encodedSeparator, backslash, controlByte, invalidUTF8
        /// A dot segment with path parameters (`/..;x/`, `/.;/`): Tomcat and other servlet
        /// containers treat it as `..` / `.`, so its meaning depends on the backend.
        case dotSegmentWithParameters
    }

    /// The normalised path of a raw `REQUEST_URI` (query cut off).
    public static func normalize(requestURI raw: String, limits: Limits) -> Result<String, Refusal> {
        let target = raw.utf8.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") })
            .map { raw[..<$0] } ?? raw[...]
        guard target.utf8.count <= limits.maxPathBytes else { return .failure(.tooLong) }
        guard target.utf8.first == UInt8(ascii: "/") else { return .failure(.notAbsolute) }
        if isPlain(target.utf8) { return .success(String(target)) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(target.utf8.count)
        var it = target.utf8.makeIterator()
        while let c = it.next() {
            if c == UInt8(ascii: "%") {
                guard let h = it.next().flatMap(PercentDecoding.hexValue),
                      let l = it.next().flatMap(PercentDecoding.hexValue)
                else { return .failure(.badEscape) }
                let byte = h << 4 | l
                if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") || byte == 0 {
                    return .failure(.encodedSeparator)
                }
                decoded.append(byte)
            } else if c == UInt8(ascii: "\\") {
                return .failure(.backslash)
            } else {
                decoded.append(c)
            }
        }
        return resolve(decoded, limits: limits)
    }

    /// Checks and tidies a path the server has already decoded and normalised (`AUTH_PATH`).
    ///
    /// The server did the decoding; Keyward still refuses what it would refuse in its own
    /// normalisation (backslash, NUL, controls, invalid UTF-8) and resolves dot segments again, so
    /// a misconfigured server cannot widen a scope.
    public static func normalize(serverPath: String, limits: Limits) -> Result<String, Refusal> {
        guard serverPath.utf8.count <= limits.maxPathBytes else { return .failure(.tooLong) }
        guard serverPath.utf8.first == UInt8(ascii: "/") else { return .failure(.notAbsolute) }
        if isPlain(serverPath.utf8) { return .success(serverPath) }
        if serverPath.utf8.contains(UInt8(ascii: "\\")) { return .failure(.backslash) }
        return resolve(Array(serverPath.utf8), limits: limits)
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

    private static func resolve(_ path: [UInt8], limits: Limits) -> Result<String, Refusal> {
        if path.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return .failure(.controlByte) }
        guard let text = String(validating: path, as: UTF8.self) else { return .failure(.invalidUTF8) }
        var segments: [Substring] = []
        for segment in text.split(separator: "/", omittingEmptySubsequences: true) {
            if let semicolon = segment.firstIndex(of: ";"), segment[..<semicolon] == "." || segment[..<semicolon] == ".." {
                return .failure(.dotSegmentWithParameters)
            }
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
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
