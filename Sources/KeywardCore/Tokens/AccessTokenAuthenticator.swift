/// Keyward's own access tokens (RFC 9068 JWTs), only as `Authorization: Bearer` (RFC 6750 §2.1;
/// in a query string a token would end up in access logs, §5.3). In the standard chain,
/// `ServiceJWTAuthenticator` is asked first and takes every JWT whose header is not `typ: at+jwt`.
///
/// The signature, claims and expiry are verified once per token (`TokenVerifier` caches them);
/// on every request the revocation list and the parent credential's epoch are consulted, and the
/// parent's own rules are applied by `CredentialPolicy` like any credential's, narrowed by the
/// token's scopes.
public struct AccessTokenAuthenticator: CredentialAuthenticator {
    /// This worker's verifier; nil refuses every token.
    public let tokens: TokenVerifier?
    /// This worker's credential lookup, for the parent credential and the revocation list.
    public let keys: any CredentialLookup

    /// Verifies with `tokens`; parents and revocations from `keys`.
    public init(tokens: TokenVerifier?, keys: any CredentialLookup) {
        self.tokens = tokens
        self.keys = keys
    }

    public func claims(_ candidate: Candidate) -> Bool {
        candidate.secret == nil && candidate.source == .bearer && Self.looksLikeJWS(candidate.value)
    }

    public func authenticate(_ candidate: Candidate, in request: CheckRequest, now: Int64) throws -> Authentication {
        guard let tokens else { return .refused(Denial(.invalidCredential)) }
        switch try tokens.verify(String(candidate.value), now: now) {
        case .failure(let reason):
            return .refused(Denial(reason))
        case .success(let claims):
            guard let parent = try CredentialPolicy.parent(of: claims, in: keys) else {
                return .refused(Denial(.invalidCredential, credential: claims.clientId, user: claims.subject))
            }
            return .verified(VerifiedCredential(record: parent, method: .jwt, tokenScopes: tokens.scopes(of: claims), viaToken: true))
        }
    }

    /// Three parts: two dots, something around them.
    static func looksLikeJWS(_ value: Substring) -> Bool {
        var dots = 0
        for byte in value.utf8 where byte == UInt8(ascii: ".") {
            dots += 1
            if dots > 2 { return false }
        }
        return dots == 2 && value.utf8.count > 2
    }
}
