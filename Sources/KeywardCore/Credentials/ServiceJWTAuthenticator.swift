import KeywardCrypto

/// JWTs a service mints for itself (DESIGN.md, "Services"), only as `Authorization: Bearer`:
/// HS256 over the compact serialisation with one of the service's active JWT secrets, `iss`
/// naming the service (its name or one of its active service-key ids), `iat` required, `exp`
/// optional but after `iat`, a lifetime of at most `Limits.maxServiceTokenLifetime`.
///
/// A Bearer JWT is a service JWT unless its header says `typ: at+jwt`, which Keyward's own
/// access tokens always carry (RFC 9068 §2.1): the two kinds never compete for one token.
///
/// The algorithm is HS256 because the service's secret is an HMAC key; a header naming any other
/// (`none`, `HS384`, `RS256`/`ES256`/`EdDSA` with the secret passed off as a key) is refused
/// before any key is touched (RFC 8725 §2.1, §3.1). The verified claims are kept per worker,
/// keyed by the token's SHA-256, until the token expires; the secret that verified a token must
/// still be active, and the service and its owner still standing, on every request.
public struct ServiceJWTAuthenticator: CredentialAuthenticator {
    /// This worker's verifier (its caches are unsynchronised).
    public let tokens: ServiceTokenVerifier

    /// Verifies with `tokens`.
    public init(tokens: ServiceTokenVerifier) {
        self.tokens = tokens
    }

    public func claims(_ candidate: Candidate) -> Bool {
        candidate.secret == nil && candidate.source == .bearer && AccessTokenAuthenticator.looksLikeJWS(candidate.value)
            && tokens.isServiceHeader(candidate.value)
    }

    public func authenticate(_ candidate: Candidate, in request: CheckRequest, now: Int64) throws -> Authentication {
        try tokens.verify(candidate.value, now: now)
    }
}

/// Verifies service JWTs at the check. One per worker thread (its caches are unsynchronised).
public final class ServiceTokenVerifier {
    private let keys: any CredentialLookup
    private let limits: Limits
    /// Verified tokens by SHA-256: who issued them, the secret that verified them, when they end.
    private var verified: [[UInt8]: (issuer: String, secret: String, expiresAt: Int64)] = [:]
    /// Header segments seen, and whether each is a service JWT's (not `typ: at+jwt`).
    private var headers: [String: Bool] = [:]

    /// A verifier finding services in `keys`, under `limits`.
    public init(keys: any CredentialLookup, limits: Limits) {
        self.keys = keys
        self.limits = limits
    }

    /// True unless the token's header says `typ: at+jwt` (an access token's); a header that does
    /// not decode counts as a service JWT's, to be refused as one. Headers are few: remembered.
    func isServiceHeader(_ token: Substring) -> Bool {
        let segment = String(token[..<(token.utf8.firstIndex(of: UInt8(ascii: ".")) ?? token.endIndex)])
        if let hit = headers[segment] { return hit }
        var isService = true
        if let bytes = Base64URL.decode(segment), let header = JSONText.parseObject(bytes), let typ = header["typ"] as? String {
            let lower = typ.lowercased()
            isService = lower != JWS.accessTokenType && lower != "application/" + JWS.accessTokenType
        }
        if headers.count >= limits.jwtHeaderCache { headers.removeAll(keepingCapacity: true) }
        headers[segment] = isService
        return isService
    }

    /// The credential a valid token stands for (the service's rules, the JWT secret that signed
    /// it), or the refusal. Throws only on infrastructure failure.
    public func verify(_ token: Substring, now: Int64) throws -> Authentication {
        let digest = Digest.sha256(String(token))
        if let hit = verified[digest] {
            guard hit.expiresAt + limits.serviceTokenLeeway > now else { return .refused(Denial(.tokenExpired, credential: hit.secret)) }
            // Discarded, deleted, or the service gone since: the next request knows.
            guard let service = try keys.service(issuer: hit.issuer), let secret = service.jwtSecrets.first(where: { $0.id == hit.secret })
            else { return .refused(Denial(.invalidCredential, credential: hit.secret)) }
            return .verified(VerifiedCredential(record: service.credential(secret), method: .serviceJWT))
        }
        let parsed: Parsed
        switch Self.parse(token, limits: limits, now: now) {
        case .failure(let reason): return .refused(Denial(reason))
        case .success(let p): parsed = p
        }
        guard let service = try keys.service(issuer: parsed.issuer) else { return .refused(Denial(.invalidCredential)) }
        // Every active secret is tried (two during a rotation); a discarded one that matches is
        // named in the refusal, so the audit tells a client still using it from a forger.
        var match: ServiceSecret? = nil
        for secret in service.jwtSecrets.sorted(by: { $0.status == .active && $1.status != .active }) {
            let mac = HMACKey(secret.key).authenticationCode(parsed.signingInput)
            if ConstantTime.equals(mac, parsed.signature) {
                match = secret
                break
            }
        }
        guard let secret = match else { return .refused(Denial(.invalidCredential, user: service.owner)) }
        guard parsed.expiresAt + limits.serviceTokenLeeway > now else {
            return .refused(Denial(.tokenExpired, credential: secret.id, user: service.owner))
        }
        if secret.status == .active {
            if verified.count >= limits.verifiedTokenCache {
                verified = verified.filter { $0.value.expiresAt + limits.serviceTokenLeeway > now }
                if verified.count >= limits.verifiedTokenCache { verified.removeAll(keepingCapacity: true) }
            }
            verified[digest] = (parsed.issuer, secret.id, parsed.expiresAt)
        }
        return .verified(VerifiedCredential(record: service.credential(secret), method: .serviceJWT))
    }

    /// A service JWT's parts and claims, checked but not yet verified.
    struct Parsed {
        /// `iss`: the service's name or one of its service-key ids.
        var issuer: String
        /// When it ends: `exp`, or `iat` plus the longest lifetime when it has no `exp`.
        var expiresAt: Int64
        /// The header and payload segments with the dot between them.
        var signingInput: [UInt8]
        /// The decoded third segment.
        var signature: [UInt8]
    }

    /// Splits and decodes `token` and checks everything but the signature and expiry: header
    /// `alg: HS256` exactly, no `crit` or `b64`, `typ` JWT when present; `iss` a string, `iat`
    /// an integer not beyond `now` plus the leeway, `exp` (when present) after `iat`, the
    /// lifetime within the limit, `nbf` (when present) reached.
    static func parse(_ token: Substring, limits: Limits, now: Int64) -> Result<Parsed, DenyReason> {
        let bytes = Array(token.utf8)
        guard bytes.count <= limits.maxCredentialBytes else { return .failure(.invalidCredential) }
        let dots = bytes.indices.filter { bytes[$0] == UInt8(ascii: ".") }
        guard dots.count == 2, let headerBytes = Base64URL.decode(symbols: bytes[0..<dots[0]]),
            let payloadBytes = Base64URL.decode(symbols: bytes[(dots[0] + 1)..<dots[1]]),
            let signature = Base64URL.decode(symbols: bytes[(dots[1] + 1)...]),
            JWS.isUTF8Object(headerBytes), JWS.isUTF8Object(payloadBytes),
            let header = JSONText.parseObject(headerBytes), let payload = JSONText.parseObject(payloadBytes)
        else { return .failure(.invalidCredential) }
        // The secret is an HMAC key: HS256 and nothing else, spelled exactly (RFC 7515 §4.1.1).
        guard header["alg"] as? String == "HS256", header["crit"] == nil, header["b64"] == nil else { return .failure(.invalidCredential) }
        if let typ = header["typ"] {
            guard let typ = typ as? String, typ.lowercased() == "jwt" else { return .failure(.invalidCredential) }
        }
        guard let issuer = payload["iss"] as? String, !issuer.isEmpty, let issuedAt = JSONText.integer(payload["iat"]),
            issuedAt <= now + limits.serviceTokenLeeway
        else { return .failure(.invalidCredential) }
        var expiresAt = issuedAt + limits.maxServiceTokenLifetime
        if let exp = payload["exp"] {
            guard let exp = JSONText.integer(exp), exp > issuedAt, exp - issuedAt <= limits.maxServiceTokenLifetime else {
                return .failure(.invalidCredential)
            }
            expiresAt = exp
        }
        if let nbf = payload["nbf"] {
            guard let nbf = JSONText.integer(nbf), nbf <= now + limits.serviceTokenLeeway else { return .failure(.invalidCredential) }
        }
        return .success(Parsed(issuer: issuer, expiresAt: expiresAt, signingInput: Array(bytes[0..<dots[1]]), signature: signature))
    }
}
