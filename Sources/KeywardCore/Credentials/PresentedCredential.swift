/// What a request carried, and where: the first credential location that holds anything wins.
///
/// Order (DESIGN.md): `Authorization: Bearer <jwt>`, an HTTP message signature (`Signature-Input`)
/// or `Authorization: HMAC`, `Authorization: Bearer <key>`, `Authorization: <key>`, `X-API-Key`,
/// then the `APIKey` / `api_key` query parameter.
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
    case bearer, authorization, signature = "signature-input", apiKeyHeader = "x-api-key", query
}

/// A value found in one credential location, offered to the authenticators in rank order.
public struct Candidate: Sendable, Equatable {
    /// Where it was found.
    public var source: CredentialSource
    /// The `Authorization` scheme (`Bearer`, `HMAC`, `Basic`...) when the header had one.
    public var scheme: Substring?
    /// The credential itself: the header value after the scheme, or the decoded query parameter.
    public var value: Substring
    /// `value` as one of Keyward's opaque secrets, when it is one (checksum verified): parsed
    /// once here, for every authenticator that asks.
    public let secret: OpaqueSecret?

    /// A candidate from its parts.
    public init(source: CredentialSource, scheme: Substring? = nil, value: Substring) {
        self.source = source
        self.scheme = scheme
        self.value = value
        self.secret = OpaqueSecret(parsing: value)
    }

    /// True for `Authorization: Bearer ...` (RFC 9110 §11.1: schemes are case-insensitive).
    public var isBearer: Bool { scheme.map { CredentialExtractor.isBearer($0.utf8) } ?? false }

    /// True for an `Authorization` scheme other than `Bearer`: a credential only for an
    /// authenticator that knows the scheme; nobody's claim, it is skipped, not refused.
    public var isForeignScheme: Bool { scheme != nil && !isBearer }

    /// True when nobody's claim means "not Keyward's" (skipped) rather than malformed: a foreign
    /// `Authorization` scheme, or a `Signature-Input` naming no Keyward credential (a signature
    /// for the backend, say).
    public var isForeign: Bool { isForeignScheme || source == .signature }
}

/// Picks the credentials out of the locations a request may carry one in.
public enum CredentialExtractor {
    /// Every credential location that holds something, in the order DESIGN.md ranks them:
    /// `Authorization` with a JWT or a scheme other than Bearer, `Signature-Input`, `Authorization`
    /// with any other value, `X-API-Key`, then `APIKey` / `api_key` in the query.
    /// Lazily: a location is read only when the ones before it did not decide.
    public static func candidates(_ request: CheckRequest) -> Candidates {
        Candidates(authorization: request.authorization, apiKeyHeader: request.apiKeyHeader, query: request.query, source: request.source)
    }

    /// `candidates(_:)` from the three locations, all of them.
    public static func candidates(authorization: String?, apiKeyHeader: String?, queryString: Substring?) -> [Candidate] {
        Array(Candidates(authorization: authorization, apiKeyHeader: apiKeyHeader, query: queryString, source: nil))
    }

    /// The candidates of one request, read location by location as they are asked for.
    public struct Candidates: Sequence, IteratorProtocol {
        let authorization: String?
        let apiKeyHeader: String?
        let query: Substring?
        /// Where `Signature-Input` is read from; nil when the request has no more fields.
        let source: (any RequestSource)?
        private var location = 0
        /// The `Authorization` candidate when it ranks below a signature (a key), for location 3.
        private var lowAuthorization: Candidate? = nil

        init(authorization: String?, apiKeyHeader: String?, query: Substring?, source: (any RequestSource)?) {
            self.authorization = authorization
            self.apiKeyHeader = apiKeyHeader
            self.query = query
            self.source = source
        }

        public mutating func next() -> Candidate? {
            while location < 5 {
                location += 1
                switch location {
                case 1:
                    guard let header = authorization?.trimmed, !header.isEmpty else { continue }
                    let candidate: Candidate
                    if let space = header.utf8.firstIndex(of: UInt8(ascii: " ")) {
                        let scheme = header[..<space]
                        candidate = Candidate(
                            source: isBearer(scheme.utf8) ? .bearer : .authorization, scheme: scheme,
                            value: header[header.utf8.index(after: space)...].trimmed)
                    } else {
                        candidate = Candidate(source: .authorization, value: header)
                    }
                    // A JWT and a scheme other than Bearer (HMAC, or a backend's own) rank first.
                    if candidate.scheme != nil,
                        candidate.source != .bearer || (candidate.secret == nil && looksLikeJWT(candidate.value))
                    {
                        return candidate
                    }
                    lowAuthorization = candidate
                case 2:
                    guard let field = source?.header("Signature-Input")?.trimmed, !field.isEmpty else { continue }
                    return Candidate(source: .signature, value: field)
                case 3:
                    guard let candidate = lowAuthorization else { continue }
                    return candidate
                case 4:
                    guard let header = apiKeyHeader?.trimmed, !header.isEmpty else { continue }
                    return Candidate(source: .apiKeyHeader, value: header)
                default:
                    guard let query, let value = queryValue(query, names: ["APIKey", "api_key"]), !value.isEmpty else { continue }
                    return Candidate(source: .query, value: value[...])
                }
            }
            return nil
        }
    }

    /// Two dots: the shape of a compact JWS (RFC 7515 §7.1).
    static func looksLikeJWT(_ value: Substring) -> Bool {
        value.utf8.count > 2 && value.utf8.reduce(0, { $0 + ($1 == UInt8(ascii: ".") ? 1 : 0) }) == 2
    }

    /// The credential, or nil when no location holds one: the first candidate that is not for a
    /// foreign `Authorization` scheme, classified as Keyward's own opaque secrets and tokens.
    public static func extract(
        authorization: String?, apiKeyHeader: String?, queryString: Substring?,
        limits: Limits
    ) -> (PresentedCredential, CredentialSource)? {
        let all = candidates(authorization: authorization, apiKeyHeader: apiKeyHeader, queryString: queryString)
        guard let first = all.first(where: { !$0.isForeignScheme }) else { return nil }
        return (classify(first.value, limits: limits, bearer: first.isBearer), first.source)
    }

    /// Case-insensitive `Bearer` (RFC 9110 §11.1: auth schemes are case-insensitive).
    static func isBearer(_ scheme: Substring.UTF8View) -> Bool {
        guard scheme.count == 6 else { return false }
        var i = scheme.startIndex
        for c in [UInt8(ascii: "b"), UInt8(ascii: "e"), UInt8(ascii: "a"), UInt8(ascii: "r"), UInt8(ascii: "e"), UInt8(ascii: "r")] {
            guard scheme[i] | 0x20 == c else { return false }
            i = scheme.index(after: i)
        }
        return true
    }

    /// What a credential value is. A JWT counts only as a Bearer token (RFC 6750 §2.1): in a query
    /// string it would end up in access logs (§5.3), so elsewhere it is malformed.
    static func classify(_ value: Substring, limits: Limits, bearer: Bool = false) -> PresentedCredential {
        guard value.utf8.count <= limits.maxCredentialBytes else { return .malformed }
        if let secret = OpaqueSecret(parsing: value) { return .opaque(secret) }
        if bearer, looksLikeJWT(value) {
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
