/// How a request was authenticated, as reported in `X-Auth-Method`.
public enum AuthMethod: String, Sendable {
    case apiKey = "api-key", jwt, serviceKey = "service-key", serviceJWT = "service-jwt", hmac, httpSignature = "http-signature", anonymous
}

/// Who a request is, once allowed.
public struct Identity: Sendable, Equatable {
    /// The owning user's name, sent as `X-Auth-User` / `REMOTE_USER`.
    public var user: String
    /// Whom the credential acts for (`X-Auth-Subject`); the user's name for API keys,
    /// `service:<name>` for a service's credentials.
    public var subject: String
    /// Public id of the credential used (never the secret).
    public var credential: String
    /// The scheme that verified the credential.
    public var method: AuthMethod
    /// The effective scopes, or `["*"]` when unrestricted.
    public var scopes: [String]
    /// The service whose credential it was (`X-Auth-Service`, `AUTH_SERVICE`); nil for a user's own.
    public var service: String?

    /// The user and subject of a request allowed without a credential on an anonymous resource.
    ///
    /// Not empty, because Apache's `mod_authnz_fcgi` answers 500 when `Variable-REMOTE_USER` is
    /// empty ("user expression yielded empty string"); reserved, so no real user can carry it.
    public static let anonymousUser = "anonymous"

    /// What `subject` starts with for a service's credentials: `service:<name>`, never a user's
    /// name (user names have no `:`).
    public static let servicePrefix = "service:"

    /// An identity from its parts; `credential` must be a public id, never a secret.
    public init(user: String, subject: String, credential: String, method: AuthMethod, scopes: [String], service: String? = nil) {
        self.service = service
        self.user = user
        self.subject = subject
        self.credential = credential
        self.method = method
        self.scopes = scopes
    }
}

/// Why a request was refused: a stable machine code, its HTTP status and the RFC 6750 error.
public enum DenyReason: String, Sendable, CaseIterable {
    case missingCredential = "missing_credential"
    case invalidCredential = "invalid_credential"
    case credentialDisabled = "credential_disabled"
    case userDisabled = "user_disabled"
    case credentialExpired = "credential_expired"
    case tokenExpired = "token_expired"
    case pathNotAllowed = "path_not_allowed"
    case methodNotAllowed = "method_not_allowed"
    case addressNotAllowed = "ip_not_allowed"
    case resourceNotAllowed = "resource_not_allowed"
    case pathRejected = "path_rejected"
    case tooManyFailures = "too_many_failures"
    // Signed requests (HMAC and RFC 9421): the request's own fields say what failed.
    case signatureMalformed = "signature_malformed"
    case signatureIncomplete = "signature_incomplete"
    case signatureInvalid = "signature_invalid"
    case signatureExpired = "signature_expired"
    case signatureReplayed = "signature_replayed"
    case algorithmMismatch = "algorithm_mismatch"
    case digestMismatch = "digest_mismatch"
    case bodyUnavailable = "body_unavailable"
    case replayCacheFull = "replay_cache_full"

    /// The kind of refusal, which decides the status code.
    public var kind: DenialKind {
        switch self {
        case .missingCredential, .invalidCredential, .credentialDisabled, .userDisabled, .credentialExpired, .tokenExpired:
            .challenge
        case .signatureMalformed, .signatureIncomplete, .signatureInvalid, .signatureExpired, .signatureReplayed, .algorithmMismatch,
            .digestMismatch, .bodyUnavailable:
            .challenge
        case .pathNotAllowed, .methodNotAllowed, .addressNotAllowed, .resourceNotAllowed, .pathRejected: .forbid
        case .tooManyFailures, .replayCacheFull: .throttle
        }
    }

    /// RFC 6750 §3.1 error code, nil when no credential was presented.
    public var oauthError: String? {
        switch kind {
        case .challenge: self == .missingCredential ? nil : "invalid_token"
        case .forbid: "insufficient_scope"
        case .throttle: "invalid_request"
        }
    }

    /// The human message; DESIGN.md fixes the first three wordings.
    public var message: String {
        switch self {
        case .missingCredential: "A required header is missing in the request."
        case .invalidCredential, .credentialDisabled, .userDisabled: "The request is authenticated as invalid."
        case .credentialExpired: "The API key has expired."
        case .tokenExpired: "The access token has expired."
        case .pathNotAllowed: "The credential is not allowed to access this path."
        case .methodNotAllowed: "The credential is not allowed to use this method here."
        case .addressNotAllowed: "The credential is not allowed from this address."
        case .resourceNotAllowed: "The user has no access to this resource."
        case .pathRejected: "The request path cannot be interpreted safely."
        case .tooManyFailures: "Too many failed attempts; try again later."
        case .signatureMalformed: "The request signature is malformed."
        case .signatureIncomplete: "The request signature does not cover what it must."
        case .signatureInvalid: "The request signature does not match."
        case .signatureExpired: "The request signature is outside its validity window."
        case .signatureReplayed: "The request signature was used before."
        case .algorithmMismatch: "The signature algorithm is not the credential's."
        case .digestMismatch: "The request body does not match its digest."
        case .bodyUnavailable: "The request body cannot be verified here."
        case .replayCacheFull: "Too many signed requests at once; try again later."
        }
    }
}

/// The three shapes a refusal takes.
public enum DenialKind: Sendable {
    /// 401: authenticate (again).
    case challenge
    /// 403: authenticated, but not allowed here.
    case forbid
    /// 429: slow down; `Retry-After` says for how long.
    case throttle

    /// 401, 403 or 429 (RFC 6750 §3.1, RFC 6585 §4).
    public var status: Int {
        switch self {
        case .challenge: 401
        case .forbid: 403
        case .throttle: 429
        }
    }
}

/// A refusal with what is known about it.
public struct Denial: Sendable, Equatable {
    /// The machine code; it fixes the status, the RFC 6750 error and the message.
    public var reason: DenyReason
    /// Public id of the presented credential, when it parsed.
    public var credential: String?
    /// Owner of that credential, when it verified.
    public var user: String?
    /// Seconds until a throttled client may try again.
    public var retryAfter: Int64?

    /// A refusal for `reason`; give `credential` and `user` only when known, and only public ids.
    public init(_ reason: DenyReason, credential: String? = nil, user: String? = nil, retryAfter: Int64? = nil) {
        self.reason = reason
        self.credential = credential
        self.user = user
        self.retryAfter = retryAfter
    }
}

/// The outcome of a check: a value, not an error (STYLE.md habit 4).
public enum Decision: Sendable, Equatable {
    case allow(Identity)
    case deny(Denial)
}

extension DenyReason: Error {}
