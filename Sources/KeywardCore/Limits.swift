/// Every bound Keyward enforces, in one value (STYLE.md habit 6).
public struct Limits: Sendable {
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
    /// Failed password sign-ins allowed per account and client (its address or /64, or its device
    /// cookie) per window. The account as a whole allows `failuresPerWindow` from strangers.
    public var signInFailuresPerClient = 10
    /// How long a successful sign-in vouches for its client at that account: the device cookie's
    /// lifetime, and how long the address is remembered (30 days).
    public var signInTrustSeconds: Int64 = 30 * 86_400
    /// Default lifetime of a new API key, in seconds (30 days).
    public var defaultKeyLifetime: Int64 = 30 * 86_400

    /// The shipped defaults; change fields one by one.
    public init() {}
}
