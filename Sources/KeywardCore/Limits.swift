/// Every bound Keyward enforces, in one value (STYLE.md habit 6): built once from the
/// configuration (`keyward serve` and every other command alike) and handed down.
public struct Limits: Sendable, Equatable {
    // MARK: The check

    /// Longest credential accepted in any location; longer ones are malformed without a lookup.
    public var maxCredentialBytes = 4096
    /// Longest request path, raw or normalised.
    public var maxPathBytes = 4096
    /// Largest request body read by a responder endpoint.
    public var maxBodyBytes = 64 * 1024
    /// Failed checks allowed per client address per window before 429 (0 turns the throttle off).
    public var failuresPerWindow = 100
    /// The throttle window, in seconds.
    public var failureWindowSeconds: Int64 = 60
    /// Client addresses (or IPv6 /64s) the failure throttle tracks per shard (of 16); past it,
    /// finished windows go first and newcomers go uncounted.
    public var throttledClients = 4_096

    // MARK: Signed requests

    /// How far a signature's `created` may lie from now, either way, in seconds (RFC 9421
    /// §3.2.1): older ones are stale, newer ones come from a clock too far ahead.
    public var signatureSkewSeconds: Int64 = 300
    /// Nonces of signed requests the process remembers at once (about 40 bytes each); past it,
    /// new ones are refused with 429 until old ones expire.
    public var signatureNonces = 1_000_000
    /// Whether an RFC 9421 signature must carry a `nonce` (off: without one, a signature can be
    /// replayed while its `created` is in the window). The admin API always requires one.
    public var requireSignatureNonce = false
    /// Wrong passwords a user may give when asked for it again (deleting or revealing a secret)
    /// within `passwordRefusalWindow` seconds; past it they are refused before any scrypt runs.
    public var maxPasswordRefusals = 10
    public var passwordRefusalWindow: Int64 = 900
    /// Longest lifetime a service JWT may claim (`exp - iat`, or the lifetime of one without
    /// `exp`), in seconds (60 minutes; DESIGN.md, "Services").
    public var maxServiceTokenLifetime: Int64 = 3_600
    /// Clock skew tolerated on a service JWT's `iat`, `nbf` and `exp`, in seconds.
    public var serviceTokenLeeway: Int64 = 30

    // MARK: Per-worker caches

    /// Access tokens (and service JWTs) whose signature a worker has verified and keeps until
    /// they expire, each kind in its own cache.
    public var verifiedTokenCache = 10_000
    /// Distinct JWT headers a worker remembers as a service JWT's or an access token's.
    public var jwtHeaderCache = 64
    /// Credential records a worker keeps between store changes.
    public var credentialCache = 10_000
    /// Serialised allow replies a worker keeps, one per credential.
    public var allowReplyCache = 4_096
    /// Distinct token `scope` claims a worker keeps parsed.
    public var parsedScopeCache = 1_024

    // MARK: Writes off the request path

    /// Audit events and usage records waiting for the writer; past it they are dropped and the
    /// drop itself is audited.
    public var bufferedEvents = 50_000

    // MARK: FastCGI connections

    /// Largest FastCGI request head (begin record and params) held before a worker serves it.
    public var requestHeadBytes = 128 * 1024
    /// Time a connection has to deliver its whole request, in milliseconds; trickling bytes do
    /// not extend it.
    public var requestMilliseconds: Int64 = 2_000
    /// Quiet time a kept-alive connection is held between requests, in milliseconds.
    public var keepAliveMilliseconds: Int64 = 60_000
    /// Time a closing connection is drained before it is dropped, in milliseconds.
    public var lingerMilliseconds: Int64 = 2_000

    // MARK: Sign-in and sessions

    /// Failed password sign-ins allowed per account and client (its address or /64, or its device
    /// cookie) per window. The account as a whole allows `failuresPerWindow` from strangers.
    public var signInFailuresPerClient = 10
    /// How long a successful sign-in vouches for its client at that account: the device cookie's
    /// lifetime, and how long the address is remembered (30 days).
    public var signInTrustSeconds: Int64 = 30 * 86_400
    /// Clients remembered as having signed in to an account (address or /64, device), for
    /// `signInTrustSeconds`; past it the oldest are forgotten.
    public var knownSignInClients = 65_536
    /// Lifetime of an admin session, in seconds (12 hours): it ends then however busy it is.
    public var sessionLifetime: Int64 = 12 * 3_600
    /// How long an admin session may go unused before it ends, in seconds (30 minutes).
    public var sessionIdle: Int64 = 30 * 60
    /// Longest password accepted at sign-in.
    public var maxPasswordBytes = 1_024
    /// Longest user name accepted at sign-in.
    public var maxSignInNameBytes = 256
    /// Longest session cookie value looked up.
    public var maxSessionCookieBytes = 256

    // MARK: Credentials and admin operations

    /// Default lifetime of a new API key, in seconds (30 days).
    public var defaultKeyLifetime: Int64 = 30 * 86_400
    /// Longest lifetime a user may give their own key without the admin privilege (90 days).
    public var maxSelfServiceLifetime: Int64 = 90 * 86_400
    /// Longest grace period of a `key roll`, during which the replaced secret keeps working (30 days).
    public var maxRollGrace: Int64 = 30 * 86_400
    /// How long a link that reveals an approved key once stays valid (a day).
    public var revealLinkLifetime: Int64 = 86_400
    /// Longest note on an access request, in characters.
    public var maxNoteLength = 500
    /// Longest window `keyward access` reports may cover (10 years).
    public var maxReportWindow: Int64 = 3_650 * 86_400

    // MARK: Admin API

    /// Items per page when the client asks for no `limit`.
    public var defaultPageSize = 100
    /// Most items per page a client may ask for.
    public var maxPageSize = 500
    /// Longest paging cursor accepted.
    public var maxCursorBytes = 1_024
    /// Most audit records one `audit/export` request returns.
    public var maxAuditExportBatch = 10_000

    /// The shipped defaults; change fields one by one.
    public init() {}
}
