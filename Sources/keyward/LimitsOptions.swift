import KeywardCore

extension Limits {
    /// The limits as configured, built once per command and handed down: `option` answers a
    /// command-line option (for `serve`) or its configuration-file value. Unset ones keep the
    /// shipped defaults.
    static func configured(_ option: (String) -> String?) throws -> Limits {
        var limits = Limits()
        if let text = option("failure-limit") {
            guard let n = Int(text), n >= 0 else { throw UsageError("invalid --failure-limit \(text)") }
            limits.failuresPerWindow = n
        }
        if let text = option("failure-window") {
            guard case .seconds(let s)? = Lifetime(text) else { throw UsageError("invalid --failure-window \(text)") }
            limits.failureWindowSeconds = s
        }
        if let text = option("session-lifetime") {
            guard case .seconds(let s)? = Lifetime(text), s <= 30 * 86_400 else {
                throw UsageError("invalid --session-lifetime \(text) (at most 30d)")
            }
            limits.sessionLifetime = s
        }
        if let text = option("session-idle") {
            guard case .seconds(let s)? = Lifetime(text), s <= 30 * 86_400 else {
                throw UsageError("invalid --session-idle \(text) (at most 30d)")
            }
            limits.sessionIdle = s
        }
        if let text = option("signature-window") {
            guard case .seconds(let s)? = Lifetime(text), s <= 3_600 else {
                throw UsageError("invalid --signature-window \(text) (at most 1h)")
            }
            limits.signatureSkewSeconds = s
        }
        if let text = option("signature-nonces") {
            guard let n = Int(text), (16...100_000_000).contains(n) else { throw UsageError("invalid --signature-nonces \(text) (16 to 100000000)") }
            limits.signatureNonces = n
        }
        if let text = option("signature-require-nonce") {
            guard
                let on = ["true": true, "yes": true, "on": true, "1": true, "false": false, "no": false, "off": false, "0": false][text.lowercased()]
            else { throw UsageError("invalid signature-require-nonce \(text) (true or false)") }
            limits.requireSignatureNonce = on
        }
        if let text = option("service-jwt-lifetime") {
            guard case .seconds(let s)? = Lifetime(text), s > 0, s <= 86_400 else {
                throw UsageError("invalid --service-jwt-lifetime \(text) (at most 24h)")
            }
            limits.maxServiceTokenLifetime = s
        }
        if let text = option("service-jwt-leeway") {
            guard case .seconds(let s)? = Lifetime(text), s <= 300 else { throw UsageError("invalid --service-jwt-leeway \(text) (at most 5m)") }
            limits.serviceTokenLeeway = s
        }
        return limits
    }
}
