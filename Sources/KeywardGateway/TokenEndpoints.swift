import KeywardCore
import KeywardCrypto

/// The token service's parts, for the workers that serve it.
public struct TokenService {
    /// Mints tokens with the current signing key.
    public let issuer: TokenIssuer
    /// Stores revocations.
    public let revoker: any TokenRevoker
    /// The public URL the endpoints live under: the issuer URL, normally `https://host/keyward`.
    public var baseURL: String { issuer.policy.issuer }

    /// The service from its parts.
    public init(issuer: TokenIssuer, revoker: any TokenRevoker) {
        self.issuer = issuer
        self.revoker = revoker
    }
}

/// An OAuth error answer (RFC 6749 §5.2, RFC 7009 §2.2.1, RFC 8693 §2.2.2, RFC 8707 §2): the
/// code and a message that says which rule refused the request.
struct OAuthError: Error, Equatable {
    /// The registered error codes Keyward answers.
    enum Code: String {
        case invalidRequest = "invalid_request"
        case invalidClient = "invalid_client"
        case invalidGrant = "invalid_grant"
        case unauthorizedClient = "unauthorized_client"
        case unsupportedGrantType = "unsupported_grant_type"
        case invalidScope = "invalid_scope"
        case invalidTarget = "invalid_target"
    }

    let code: Code
    let message: String
    /// 401 for `invalid_client` (RFC 6749 §5.2), 413 for a body over the limit, else 400.
    let status: Int

    init(_ code: Code, _ message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status ?? (code == .invalidClient ? 401 : 400)
    }

    static let invalidClient = OAuthError(.invalidClient, "Client authentication failed.")
    static let invalidGrant = OAuthError(.invalidGrant, "The credential is invalid, expired or disabled.")
    static let unsupportedGrantType = OAuthError(
        .unsupportedGrantType, "This grant type is not supported: use client_credentials or urn:ietf:params:oauth:grant-type:token-exchange.")

    /// A request without `name`.
    static func missing(_ name: String) -> OAuthError { OAuthError(.invalidRequest, "The request lacks the \(name) parameter.") }

    /// A body that could not be read as parameters.
    init(_ refusal: BodyParameters.Refusal) {
        switch refusal {
        case .tooLarge: self.init(.invalidRequest, "The request body is too large.", status: 413)
        case .unsupportedType: self.init(.invalidRequest, "The body must be application/x-www-form-urlencoded or application/json.")
        case .malformed: self.init(.invalidRequest, "The body is not a well-formed form or JSON object of strings.")
        case .repeated(let name): self.init(.invalidRequest, "The \(name) parameter is repeated (RFC 6749 §3.2).")
        }
    }

    /// An issuer's refusal under its own code.
    init(_ refusal: IssueRefusal) {
        switch refusal.code {
        case .invalidGrant: self.init(.invalidGrant, refusal.message)
        case .invalidScope: self.init(.invalidScope, refusal.message)
        case .invalidTarget: self.init(.invalidTarget, refusal.message)
        }
    }
}

/// A client over its failure limit whose credential did not verify: 429 with `Retry-After`
/// (RFC 6585 §4) instead of the usual error, under the check's stable code `too_many_failures`.
struct OAuthThrottled: Error {
    let retryAfter: Int64
}

/// Grant and token type URNs (RFC 8693 §2.1, §3).
enum Grant {
    static let clientCredentials = "client_credentials"
    static let tokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
    static let apiKeyTokenType = "urn:keyward:params:oauth:token-type:api-key"
    static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"
    /// Keyward's access tokens are JWTs, so a client may name them by their format too (RFC 8693 §3).
    static let jwtTokenType = "urn:ietf:params:oauth:token-type:jwt"
}

extension Gateway {
    /// `POST /token`: client credentials (RFC 6749 §4.4) and token exchange (RFC 8693) of an API
    /// key or of one of Keyward's access tokens (down-scoping).
    func token(_ params: some ParamSource) -> Response {
        guard params.param("REQUEST_METHOD") == "POST" else { return Self.methodNotAllowed("POST") }
        guard let service = tokenService else { return Self.notFound }
        let xml = wantsXML(params)
        do {
            let body = try readForm(params)
            guard let grant = body["grant_type"] else { throw OAuthError.missing("grant_type") }
            var request = TokenRequest(
                scope: body["scope"], audiences: body.all("audience"), resources: body.all("resource"),
                requestOrigin: origin(params))
            let parent: CredentialRecord
            switch grant {
            case Grant.clientCredentials:
                parent = try authenticateClient(params, body)
            case Grant.tokenExchange:
                (parent, request.subject) = try exchangeSubject(body, params)
            default:
                throw OAuthError.unsupportedGrantType
            }
            return try issue(service, for: parent, request, exchange: grant == Grant.tokenExchange, xml: xml)
        } catch let error as OAuthError {
            return oauthError(error, xml: xml)
        } catch let throttled as OAuthThrottled {
            return tooManyFailures(throttled, xml: xml)
        } catch {
            log("keyward[KW0302]: token endpoint failed: \(error)")
            return Self.internalError
        }
    }

    /// The parent credential of a token exchange, and the access token exchanged if that is
    /// what the subject is. Refusals follow RFC 8693 §2.2.2: a subject token that is missing,
    /// of an unsupported type or invalid is `invalid_request`.
    private func exchangeSubject(_ body: BodyParameters, _ params: some ParamSource) throws -> (CredentialRecord, AccessTokenClaims?) {
        guard let subject = body["subject_token"] else { throw OAuthError.missing("subject_token") }
        guard let type = body["subject_token_type"] else { throw OAuthError.missing("subject_token_type") }
        guard body["actor_token"] == nil, body["actor_token_type"] == nil else {
            throw OAuthError(.invalidRequest, "Delegation (actor_token) is not supported: exchange the subject token alone.")
        }
        if let wanted = body["requested_token_type"], wanted != Grant.accessTokenType, wanted != Grant.jwtTokenType {
            throw OAuthError(.invalidRequest, "Only access tokens are issued: requested_token_type must be \(Grant.accessTokenType).")
        }
        switch type {
        case Grant.apiKeyTokenType:
            return (try verifyAPIKey(subject, params, refusal: .invalidRequest), nil)
        case Grant.accessTokenType, Grant.jwtTokenType:
            let now = authenticator.clock.now
            guard let (claims, parent) = try activeToken(subject) else {
                throw refuse(
                    OAuthError(.invalidRequest, "The subject_token is not an active access token issued by this server."), params,
                    credential: nil, address: config.client.address(params) ?? "", now: now)
            }
            return (parent, claims)
        default:
            // Named back when it is short printable ASCII, as a token type URI is; never anything else.
            let named = type.utf8.count <= 128 && type.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F } ? " \(type)" : ""
            throw OAuthError(
                .invalidRequest,
                "The subject_token_type\(named) is not supported: use \(Grant.apiKeyTokenType) for an API key or \(Grant.accessTokenType) for an access token of this server."
            )
        }
    }

    /// `POST /api/ApiToken/GenerateAccessTokenFromApiToken`: the API key in `Authorization: Bearer`.
    func exchangeFromHeader(_ params: some ParamSource) -> Response {
        guard params.param("REQUEST_METHOD") == "POST" else { return Self.methodNotAllowed("POST") }
        guard let service = tokenService else { return Self.notFound }
        let xml = wantsXML(params)
        do {
            guard let header = params.param("HTTP_AUTHORIZATION"), header.count > 7, header.prefix(7).lowercased() == "bearer "
            else { throw OAuthError(.invalidRequest, "The request lacks an API key in Authorization: Bearer.") }
            let parent = try verifyAPIKey(String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces), params, refusal: .invalidGrant)
            return try issue(service, for: parent, TokenRequest(), exchange: true, xml: xml)
        } catch let error as OAuthError {
            return oauthError(error, xml: xml)
        } catch let throttled as OAuthThrottled {
            return tooManyFailures(throttled, xml: xml)
        } catch {
            log("keyward[KW0302]: token endpoint failed: \(error)")
            return Self.internalError
        }
    }

    /// `POST /introspect` (RFC 7662), for authenticated clients.
    func introspect(_ params: some ParamSource) -> Response {
        guard params.param("REQUEST_METHOD") == "POST" else { return Self.methodNotAllowed("POST") }
        guard tokenService != nil else { return Self.notFound }
        do {
            let body = try readForm(params)
            let client = try authenticateClient(params, body)
            guard let token = body["token"] else { throw OAuthError.missing("token") }
            // Only the token's own client, or a client of the same owner, learns about it (RFC 7662 §4).
            guard let (claims, parent) = try activeToken(token),
                claims.clientId == client.id || claims.subject == client.userName
            else { return .json(200, .object([("active", .bool(false))])) }
            return .json(
                200,
                .object([
                    ("active", .bool(true)), ("scope", .string(claims.scopeText)), ("client_id", .string(claims.clientId)),
                    ("username", .string(parent.userName)), ("token_type", .string("Bearer")), ("exp", .int(claims.expiresAt)),
                    ("iat", .int(claims.issuedAt)), ("nbf", .int(claims.issuedAt)), ("sub", .string(claims.subject)),
                    ("aud", .string(claims.audience)), ("iss", .string(claims.issuer)), ("jti", .string(claims.id)),
                ]))
        } catch let error as OAuthError {
            return oauthError(error, xml: false)
        } catch let throttled as OAuthThrottled {
            return tooManyFailures(throttled, xml: false)
        } catch {
            log("keyward[KW0303]: introspection failed: \(error)")
            return Self.internalError
        }
    }

    /// `POST /revoke` (RFC 7009): a client revokes a token issued to it, and only such a token
    /// (§2.1: "the authorization server first validates the client credentials ... and then
    /// verifies whether the token was issued to the client making the revocation request").
    func revoke(_ params: some ParamSource) -> Response {
        guard params.param("REQUEST_METHOD") == "POST" else { return Self.methodNotAllowed("POST") }
        guard let service = tokenService else { return Self.notFound }
        do {
            let body = try readForm(params)
            let client = try authenticateClient(params, body)
            guard let token = body["token"] else { throw OAuthError.missing("token") }
            let now = authenticator.clock.now
            // The client's own secret as the token revokes its grant: every token issued to it so far.
            if let secret = OpaqueSecret(parsing: Substring(token)), secret.matches(client, pepper: authenticator.pepper, now: now) {
                try service.revoker.revokeGrant(credentialId: client.id, now: now)
                authenticator.audit.record(
                    AuditEvent(
                        at: now, actor: client.userName, action: "token.revoke-grant", credential: client.id,
                        sourceIP: config.client.address(params)))
                return Response(status: 200, headers: [("Cache-Control", "no-store"), ("Content-Length", "0")])
            }
            // An invalid or unknown token needs no revoking, and gets 200 all the same (§2.2).
            if case .success(let claims)? = try? authenticator.tokens?.verify(token, now: now) {
                // Whatever the owner: a token exchanged from an API key, or issued to another client
                // of the same user, is not this client's to revoke.
                guard claims.clientId == client.id else {
                    throw OAuthError(.unauthorizedClient, "The token was not issued to this client, which may not revoke it.")
                }
                // Kept until the verifier itself would refuse the token (exp plus the clock-skew leeway).
                try service.revoker.revoke(tokenId: claims.id, expiresAt: claims.expiresAt + service.issuer.policy.leeway + 1, now: now)
                authenticator.audit.record(
                    AuditEvent(
                        at: now, actor: client.userName, action: "token.revoke", target: "token:\(claims.id)",
                        credential: client.id, sourceIP: config.client.address(params)))
            }
            return Response(status: 200, headers: [("Cache-Control", "no-store"), ("Content-Length", "0")])
        } catch let error as OAuthError {
            return oauthError(error, xml: false)
        } catch let throttled as OAuthThrottled {
            return tooManyFailures(throttled, xml: false)
        } catch {
            log("keyward[KW0304]: revocation failed: \(error)")
            return Self.internalError
        }
    }

    /// `GET /.well-known/jwks.json` (RFC 7517 §5).
    func jwks(_ params: some ParamSource) -> Response {
        guard ["GET", "HEAD"].contains(params.param("REQUEST_METHOD") ?? "GET") else { return Self.methodNotAllowed("GET, HEAD") }
        guard let service = tokenService else { return Self.notFound }
        do {
            let keys = try service.issuer.keys.publishedKeys().map { $0.jwk() }
            return Response(
                status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "public, max-age=60")],
                body: Array((JSONWebKey.set(keys) + "\n").utf8))
        } catch {
            log("keyward[KW0305]: JWKS failed: \(error)")
            return Self.internalError
        }
    }

    /// `GET /.well-known/oauth-authorization-server` (RFC 8414 §3).
    func metadata(_ params: some ParamSource) -> Response {
        guard ["GET", "HEAD"].contains(params.param("REQUEST_METHOD") ?? "GET") else { return Self.methodNotAllowed("GET, HEAD") }
        guard let service = tokenService else { return Self.notFound }
        let base = service.baseURL.hasSuffix("/") ? String(service.baseURL.dropLast()) : service.baseURL
        let authMethods = ["client_secret_basic", "client_secret_post"]
        return .json(
            200,
            .object([
                ("issuer", .string(service.baseURL)), ("token_endpoint", .string(base + "/token")),
                ("jwks_uri", .string(base + "/.well-known/jwks.json")),
                ("introspection_endpoint", .string(base + "/introspect")), ("revocation_endpoint", .string(base + "/revoke")),
                ("grant_types_supported", .strings([Grant.clientCredentials, Grant.tokenExchange])),
                // RFC 8414 §2 requires a non-empty list, and validators (authlib, idpyoidc) refuse `[]`.
                // `none` (OAuth 2.0 Multiple Response Type Encoding Practices §4) is the one value
                // that issues nothing: no authorization endpoint is named, no grant here uses one.
                ("response_types_supported", .strings(["none"])),
                ("token_endpoint_auth_methods_supported", .strings(authMethods)),
                ("introspection_endpoint_auth_methods_supported", .strings(authMethods)),
                ("revocation_endpoint_auth_methods_supported", .strings(authMethods)),
            ]), headers: [])
    }

    // MARK: Parts

    private func readForm(_ params: some ParamSource) throws(OAuthError) -> BodyParameters {
        do { return try BodyParameters.read(params, limits: config.limits, repeatable: ["audience", "resource"]) } catch {
            throw OAuthError(error)
        }
    }

    /// `scheme://authority` the request was sent to, as the server reported it; nil when unknown.
    private func origin(_ params: some ParamSource) -> String? {
        let target = ParamRequestSource(params).target
        guard let scheme = target.scheme, let authority = target.authority else { return nil }
        return scheme + "://" + authority
    }

    private func wantsXML(_ params: some ParamSource) -> Bool {
        guard let accept = params.param("HTTP_ACCEPT")?.lowercased() else { return false }
        return (accept.contains("application/xml") || accept.contains("text/xml")) && !accept.contains("application/json")
    }

    /// The client of a request: Basic credentials win over body credentials (RFC 6749 §2.3.1).
    /// Verified whatever the client's failure count: see `refuse`.
    private func authenticateClient(_ params: some ParamSource, _ body: BodyParameters) throws -> CredentialRecord {
        let now = authenticator.clock.now
        let address = config.client.address(params) ?? ""
        let pair: (id: String, secret: String)
        switch basicCredentials(params.param("HTTP_AUTHORIZATION")) {
        case .some(.some(let basic)): pair = basic
        case .some(.none): throw refuse(.invalidClient, params, credential: nil, address: address, now: now)
        case .none:
            guard let id = body["client_id"], let secret = body["client_secret"] else { throw deny(.invalidClient, params, credential: nil) }
            pair = (id, secret)
        }
        guard let secret = OpaqueSecret(parsing: Substring(pair.secret)), secret.id == pair.id,
            let client = try authenticator.verified(secret, as: .clientSecret)
        else {
            throw refuse(
                .invalidClient, params, credential: OpaqueSecret.isCredentialId(pair.id, kind: .clientSecret) ? pair.id : nil,
                address: address, now: now)
        }
        guard CredentialPolicy.standing(of: client, now: now) == nil else {
            // The genuine secret of a client that may not be used: its own answer (no guess), counted all the same.
            if !address.isEmpty { authenticator.throttle.recordFailure(address, now: now) }
            throw deny(.invalidClient, params, credential: client.id)
        }
        return client
    }

    /// The API key of an exchange, verified like a check verifies it (minus path rules). One
    /// that does not verify is refused with `refusal`: `invalid_request` for a token exchange's
    /// subject_token (RFC 8693 §2.2.2), `invalid_grant` on the compatibility route.
    private func verifyAPIKey(_ text: String, _ params: some ParamSource, refusal: OAuthError.Code) throws -> CredentialRecord {
        let now = authenticator.clock.now
        let address = config.client.address(params) ?? ""
        let error = OAuthError(
            refusal, refusal == .invalidRequest ? "The subject_token is not a valid API key that may be used." : OAuthError.invalidGrant.message)
        guard let secret = OpaqueSecret(parsing: Substring(text)), let key = try authenticator.verified(secret, as: .apiKey)
        else { throw refuse(error, params, credential: OpaqueSecret(parsing: Substring(text))?.id, address: address, now: now) }
        if CredentialPolicy.admits(key, from: config.client.address(params), now: now) != nil {
            throw deny(error, params, credential: key.id)
        }
        return key
    }

    /// A presented credential that did not verify. Under the client's failure limit: counted, and
    /// answered `error`. Past it: 429 with `Retry-After`. The credential was checked all the same
    /// (a checksum, a lookup and an HMAC), so a valid one from the same address, a shared NAT
    /// say, is still served; garbage fails the checksum and never reaches the store.
    private func refuse(_ error: OAuthError, _ params: some ParamSource, credential: String?, address: String, now: Int64) -> any Error {
        guard !address.isEmpty else { return deny(error, params, credential: credential) }
        if let wait = authenticator.throttle.retryAfter(address, now: now) {
            if let n = authenticator.throttle.auditedRefusal(address, now: now) {
                authenticator.audit.record(
                    AuditEvent(
                        at: now, actor: "anonymous", action: "token.deny", credential: credential, sourceIP: address,
                        reason: DenyReason.tooManyFailures.rawValue, detail: "refusal \(n) of the window"))
            }
            return OAuthThrottled(retryAfter: wait)
        }
        authenticator.throttle.recordFailure(address, now: now)
        return deny(error, params, credential: credential)
    }

    private func issue(
        _ service: TokenService, for parent: CredentialRecord, _ request: TokenRequest, exchange: Bool, xml: Bool
    ) throws -> Response {
        let now = authenticator.clock.now
        let issued: (token: String, claims: AccessTokenClaims)
        do {
            let resources = request.audiences.isEmpty ? [] : try authenticator.keys.accessModel().resources
            issued = try service.issuer.issue(for: parent, request, resources: resources, now: now)
        } catch let refusal as IssueRefusal {
            throw OAuthError(refusal)
        }
        authenticator.usage.recordUse(credential: parent.id, at: now, from: nil)
        var fields: [(String, JSON)] = [("access_token", .string(issued.token))]
        // RFC 8693 §2.2.1: issued_token_type belongs to a token exchange answer only.
        if exchange { fields.append(("issued_token_type", .string(Grant.accessTokenType))) }
        fields += [
            ("token_type", .string("Bearer")), ("expires_in", .int(issued.claims.expiresAt - now)),
            ("scope", .string(issued.claims.scopeText)),
        ]
        if xml { return Self.xml(200, root: "AccessTokenResponse", fields, headers: [("Pragma", "no-cache")]) }
        return .json(200, .object(fields), headers: [("Pragma", "no-cache")])
    }

    /// A token that verifies, is not revoked, and whose parent may still be used.
    private func activeToken(_ token: String) throws -> (AccessTokenClaims, CredentialRecord)? {
        let now = authenticator.clock.now
        guard let tokens = authenticator.tokens, case .success(let claims) = try tokens.verify(token, now: now),
            let parent = try CredentialPolicy.parent(of: claims, in: authenticator.keys),
            CredentialPolicy.standing(of: parent, now: now, viaToken: true) == nil
        else { return nil }
        return (claims, parent)
    }

    /// Audits a refused token request and returns the error to throw.
    private func deny(_ error: OAuthError, _ params: some ParamSource, credential: String?) -> OAuthError {
        authenticator.audit.record(
            AuditEvent(
                at: authenticator.clock.now, actor: "anonymous", action: "token.deny", credential: credential,
                sourceIP: config.client.address(params), reason: error.code.rawValue))
        return error
    }

    private func tooManyFailures(_ throttled: OAuthThrottled, xml: Bool) -> Response {
        let headers = [("Pragma", "no-cache"), ("Retry-After", String(max(1, throttled.retryAfter)))]
        let body = ErrorBody.oauth(DenyReason.tooManyFailures.rawValue, DenyReason.tooManyFailures.message)
        if xml { return Self.xml(429, root: "ErrorResponse", body, headers: headers) }
        return .error(429, body, headers: headers)
    }

    private func oauthError(_ error: OAuthError, xml: Bool) -> Response {
        var headers = [("Pragma", "no-cache")]
        if error.code == .invalidClient { headers.append(("WWW-Authenticate", "Basic realm=\"keyward\"")) }
        let body = ErrorBody.oauth(error.code.rawValue, error.message)
        if xml { return Self.xml(error.status, root: "ErrorResponse", body, headers: headers) }
        return .error(error.status, body, headers: headers)
    }

    /// An error as a flat XML document under `root`.
    static func xml(_ status: Int, root: String, _ body: ErrorBody, headers: [(String, String)]) -> Response {
        guard case .object(let fields) = body.json else { preconditionFailure("an error body is an object") }
        return xml(status, root: root, fields, headers: headers)
    }

    /// A flat XML document of `fields` (strings and numbers) under `root`.
    static func xml(_ status: Int, root: String, _ fields: [(String, JSON)], headers: [(String, String)]) -> Response {
        func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;")
        }
        var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<\(root)>"
        for (name, value) in fields {
            let shown: String
            switch value {
            case .string(let s): shown = s
            case .null: shown = ""
            default: shown = value.text
            }
            text += "<\(name)>\(escape(shown))</\(name)>"
        }
        text += "</\(root)>\n"
        return Response(
            status: status,
            headers: headers + [
                ("Content-Type", "application/xml; charset=utf-8"),
                ("Cache-Control", "no-store"),
            ],
            body: Array(text.utf8))
    }
}
