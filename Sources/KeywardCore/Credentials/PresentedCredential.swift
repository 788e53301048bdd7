/// What a request carried, and where: the first credential location that holds anything wins.
///
/// Order (DESIGN.md): `Authorization: Bearer <jwt>`, an HTTP message signature / HMAC,
/// `Authorization: Bearer <key>`, `Authorization: <key>`, `X-API-Key`, then the `APIKey` /
/// `api_key` query parameter.
public enum PresentedCredential: Sendable, Equatable {
    /// A well-formed opaque secret (`kwk_`, `kwc_`, `kws_`).
    case opaque(OpaqueSecret)
    /// A compact JWS (three base64url parts).
    case jwt(String)
    /// Something in a credential location that has none of the known shapes.
    case malformed
}

/// Where the credential came from, for logs and audit.
public enum CredentialSource: String, Sendable {
    case bearer, authorization, apiKeyHeader = "x-api-key", query
}

/// Picks the credential out of the locations a request may carry one in.
public enum CredentialExtractor {
    /// The credential, or nil when no location holds one.
    ///
    /// `Authorization` values with a foreign scheme (`Basic`, `Digest`, ...) are not ours and do not
    /// count as a credential; a `Bearer` value always does.
    public static func extract(authorization: String?, apiKeyHeader: String?, queryString: Substring?,
                               limits: Limits) -> (PresentedCredential, CredentialSource)? {
        if let header = authorization?.trimmed, !header.isEmpty {
            if let space = header.utf8.firstIndex(of: UInt8(ascii: " ")) {
                if isBearer(header.utf8[..<space]) {
                    return (classify(header[header.utf8.index(after: space)...].trimmed, limits: limits, bearer: true), .bearer)
                }
            } else {
                return (classify(header, limits: limits), .authorization)
            }
        }
        if let header = apiKeyHeader?.trimmed, !header.isEmpty {
            return (classify(header, limits: limits), .apiKeyHeader)
        }
        if let query = queryString, let value = queryValue(query, names: ["APIKey", "api_key"]), !value.isEmpty {
            return (classify(value[...], limits: limits), .query)
        }
        return nil
    }

    /// Case-insensitive `Bearer` (RFC 9110 §11.1: auth schemes are case-insensitive).
    static func isBearer(_ scheme: Substring.UTF8View) -> Bool {
        scheme.count == 6 && zip(scheme, "bearer".utf8).allSatisfy { $0 | 0x20 == $1 }
    }

    /// What a credential value is. A JWT counts only as a Bearer token (RFC 6750 §2.1): in a query
    /// string it would end up in access logs (§5.3), so elsewhere it is malformed.
    static func classify(_ value: Substring, limits: Limits, bearer: Bool = false) -> PresentedCredential {
        guard value.utf8.count <= limits.maxCredentialBytes else { return .malformed }
        if let secret = OpaqueSecret(parsing: value) { return .opaque(secret) }
        if bearer, value.utf8.count > 2, value.utf8.reduce(0, { $0 + ($1 == UInt8(ascii: ".") ? 1 : 0) }) == 2 {
            return .jwt(String(value))
        }
        return .malformed
    }

    /// The percent-decoded value of the one parameter among `names` in an
    /// `application/x-www-form-urlencoded` query. Two of them (`?APIKey=a&api_key=b`) read as a
    /// lone NUL, present and malformed: applications disagree on which one counts.
    static func queryValue(_ query: Substring, names: [String]) -> String? {
        var found: Substring? = nil
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard names.contains(where: { $0.utf8.elementsEqual(parts[0].utf8) }) else { continue }
            guard found == nil else { return "\u{0}" }
            found = parts.count > 1 ? parts[1] : ""
        }
        guard let raw = found else { return nil }
        // A value that does not decode reads as a lone NUL: present, and malformed.
        guard let bytes = PercentDecoding.decode(raw, plusAsSpace: true) else { return "\u{0}" }
        return String(validating: bytes, as: UTF8.self) ?? "\u{0}"
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP optional whitespace, RFC 9110 §5.6.3).
    var trimmed: Substring {
        let s = Substring(self)
        let u = s.utf8
        func blank(_ c: UInt8) -> Bool { c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") }
        guard let first = u.firstIndex(where: { !blank($0) }) else { return s[s.endIndex...] }
        let last = u.lastIndex(where: { !blank($0) })!
        return s[first...last]
    }
}
