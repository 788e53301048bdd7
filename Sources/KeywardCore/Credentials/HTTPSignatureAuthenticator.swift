/// HTTP Message Signatures (RFC 9421) at the check: `Signature-Input` / `Signature` with a
/// `keyid` naming a signed-request credential (`kwh_...`), verified with the credential's
/// `hmac-sha256` secret or Ed25519 public key.
///
/// What a signature must be to pass (DESIGN.md, "Signed requests"):
/// - exactly one signature in the fields names a Keyward credential (others are for someone
///   else and are left alone); its `alg`, when given, is the credential's;
/// - it covers `@method` and the target: `@target-uri`, or `@path` with `@query`, or
///   `@request-target`; and `content-digest` when the request has content (RFC 9530), in which
///   case the digest is checked against the body, which must reach Keyward for that;
/// - `created` is within `signatureSkewSeconds` of now, `expires` (if any) is after now;
/// - its `nonce`, if any (required with `requireSignatureNonce`), was not seen before.
/// Only after the signature verifies is its nonce recorded, so only credential holders can
/// fill the replay cache.
public struct HTTPSignatureAuthenticator: CredentialAuthenticator {
    /// This worker's credential lookup.
    public let keys: any CredentialLookup
    /// The process's replay cache, shared by every worker.
    public let nonces: NonceCache
    /// The window, the nonce rule and the body cap.
    public let limits: Limits

    /// Verifies signatures with credentials from `keys`, recording nonces in `nonces`.
    public init(keys: any CredentialLookup, nonces: NonceCache, limits: Limits) {
        self.keys = keys
        self.nonces = nonces
        self.limits = limits
    }

    /// A `Signature-Input` that mentions a Keyward credential id; one that does not is a
    /// signature for someone else.
    public func claims(_ candidate: Candidate) -> Bool {
        guard candidate.source == .signature else { return false }
        // A repeated field (the server's lone NUL) may hide a signature naming a credential: it
        // is refused as malformed, not passed over for a credential in a lower location.
        if candidate.value == "\u{0}" { return true }
        // `keyid="kwh_`, searched for byte by byte: this runs before any parsing.
        let needle = Self.keyIdMarker
        let bytes = candidate.value.utf8
        var start = bytes.startIndex
        while let first = bytes[start...].firstIndex(of: needle[0]) {
            if bytes[first...].starts(with: needle) { return true }
            start = bytes.index(after: first)
        }
        return false
    }

    private static let keyIdMarker = Array("keyid=\"\(SecretKind.signedRequest.rawValue)_".utf8)

    /// The credential the request's signature proves, or why it proves none.
    public func authenticate(_ candidate: Candidate, in request: CheckRequest, now: Int64) throws -> Authentication {
        let signatureInput = String(candidate.value)
        let input: SignatureInput
        let signature: [UInt8]
        do throws(SignatureProblem) {
            let ours = try SignatureInput.parse(signatureInput).filter { $0.parameters.keyId.map(RequestKeyRecord.isId) ?? false }
            guard ours.count == 1 else {
                throw .malformed(ours.isEmpty ? "no signature names a Keyward credential" : "more than one signature names a Keyward credential")
            }
            input = ours[0]
            guard let field = request.header("Signature") else { throw .malformed("the Signature field is missing") }
            signature = try SignatureInput.signature(input.label, in: field)
        } catch {
            return .refused(Denial(error.reason))
        }
        let id = input.parameters.keyId!
        guard let key = try keys.requestKey(id: id) else { return .refused(Denial(.invalidCredential, credential: id)) }
        func refuse(_ reason: DenyReason, retryAfter: Int64? = nil) -> Authentication {
            .refused(Denial(reason, credential: id, retryAfter: retryAfter))
        }
        if let alg = input.parameters.algorithm, alg != key.algorithm.rawValue { return refuse(.algorithmMismatch) }
        if let missing = Self.missingRequirement(input, request: request, limits: limits) { return refuse(missing.reason) }
        guard Self.isFresh(input.parameters, now: now, skew: limits.signatureSkewSeconds) else { return refuse(.signatureExpired) }
        if input.components.contains(where: { $0.name == "content-digest" }) {
            guard let body = request.body(limit: limits.maxBodyBytes) else { return refuse(.bodyUnavailable) }
            switch ContentDigest.check(request.header("Content-Digest") ?? "", body: body) {
            case .matches: break
            case .mismatch: return refuse(.digestMismatch)
            case .malformed: return refuse(.signatureMalformed)
            }
        }
        let base: [UInt8]
        do throws(SignatureProblem) {
            base = try SignatureBase.build(input, message: request)
        } catch {
            return refuse(error.reason)
        }
        guard key.verifies(signature, over: base) else { return refuse(.signatureInvalid) }
        if let nonce = input.parameters.nonce {
            let until = input.parameters.created! + limits.signatureSkewSeconds
            switch nonces.admit(credential: id, nonce: nonce, until: until, now: now) {
            case .fresh: break
            case .replayed: return refuse(.signatureReplayed)
            case .full(let wait): return refuse(.replayCacheFull, retryAfter: wait)
            }
        }
        return .verified(VerifiedCredential(record: key.record, method: .httpSignature))
    }

    /// The first rule of coverage `input` breaks (DESIGN.md): `created` given; `@method` and
    /// the target covered; `content-digest` covered when the request has content; a nonce when
    /// one is required. Nil when it keeps them all.
    public static func missingRequirement(_ input: SignatureInput, request: CheckRequest, limits: Limits) -> SignatureProblem? {
        let covered = input.components.map(\.name)
        if input.parameters.created == nil { return .incomplete("the signature has no created parameter") }
        if !covered.contains("@method") { return .incomplete("the signature does not cover @method") }
        if !covered.contains("@target-uri") && !covered.contains("@request-target") && !(covered.contains("@path") && covered.contains("@query")) {
            return .incomplete("the signature covers neither @target-uri nor @path and @query")
        }
        if !covered.contains("content-digest") && request.declaresBody {
            return .incomplete("the request has content and the signature does not cover content-digest")
        }
        if limits.requireSignatureNonce && input.parameters.nonce == nil { return .incomplete("the signature has no nonce") }
        return nil
    }

    /// True when `created` lies within `skew` seconds of `now` and `expires`, if given, is after
    /// now and not before `created` (RFC 9421 §3.2.1).
    public static func isFresh(_ parameters: SignatureParameters, now: Int64, skew: Int64) -> Bool {
        guard let created = parameters.created, created <= now + skew, created >= now - skew else { return false }
        if let expires = parameters.expires { return expires > now && expires >= created }
        return true
    }
}
