import KeywardCrypto

/// The seed's HMAC token at the check: `Authorization: HMAC <credential id>:<base64 mac>`, or the
/// bare `Authorization: HMAC <base64 mac>` on a path the server binds to one credential
/// (`KEYWARD_HMAC_CREDENTIAL`); the MAC is HMAC-SHA256 over the request body under the
/// credential's secret (i-net PDFC's scheme), standard base64.
///
/// The MAC covers the body and nothing else: not the method, the path or a time, so a captured
/// request can be replayed, to any path the credential may call, for as long as the credential
/// lives, and a request without a body carries the same MAC every time. It is here for clients
/// that cannot do better; RFC 9421 signatures (`HTTPSignatureAuthenticator`) are the way to sign
/// requests. Where the body does not reach Keyward (an `auth_request` subrequest, an authorizer)
/// both forms are refused (`body_unavailable`): there is nothing to check the MAC against.
public struct HMACAuthenticator: CredentialAuthenticator {
    /// This worker's credential lookup.
    public let keys: any CredentialLookup
    /// The body cap.
    public let limits: Limits

    /// Verifies MACs with credentials from `keys`.
    public init(keys: any CredentialLookup, limits: Limits) {
        self.keys = keys
        self.limits = limits
    }

    /// `Authorization: HMAC ...` (schemes are case-insensitive, RFC 9110 §11.1).
    public func claims(_ candidate: Candidate) -> Bool {
        guard candidate.source == .authorization, let scheme = candidate.scheme else { return false }
        return scheme.utf8.count == 4 && zip(scheme.utf8, "hmac".utf8).allSatisfy { $0 | 0x20 == $1 }
    }

    public func authenticate(_ candidate: Candidate, in request: CheckRequest, now: Int64) throws -> Authentication {
        let value = candidate.value
        let id: String
        let encoded: Substring
        if let colon = value.firstIndex(of: ":") {
            guard RequestKeyRecord.isId(value[..<colon]) else { return .refused(Denial(.signatureMalformed)) }
            id = String(value[..<colon])
            encoded = value[value.index(after: colon)...]
        } else {
            // The bare form names no credential: only a path the server bound to one has it.
            guard let bound = request.boundCredential, RequestKeyRecord.isId(bound) else { return .refused(Denial(.invalidCredential)) }
            id = bound
            encoded = value
        }
        guard let mac = Self.decodeMAC(encoded) else { return .refused(Denial(.signatureMalformed, credential: id)) }
        guard let key = try keys.requestKey(id: id) else { return .refused(Denial(.invalidCredential, credential: id)) }
        guard key.algorithm == .hmacSHA256 else { return .refused(Denial(.algorithmMismatch, credential: id)) }
        guard let body = request.body(limit: limits.maxBodyBytes) else { return .refused(Denial(.bodyUnavailable, credential: id)) }
        guard key.verifies(mac, over: body) else { return .refused(Denial(.signatureInvalid, credential: id)) }
        return .verified(VerifiedCredential(record: key.record, method: .hmac))
    }

    /// A 32-byte MAC in standard base64 (RFC 4648 §4; what Java's `Base64.getEncoder()` writes),
    /// padding optional; nil for anything else.
    static func decodeMAC(_ text: Substring) -> [UInt8]? {
        let symbols = text.utf8.filter { $0 != UInt8(ascii: "=") }
        guard text.utf8.count <= 44, text.utf8.count - symbols.count <= 1, text.utf8.last != nil,
            !text.utf8.dropLast(text.utf8.count - symbols.count).contains(UInt8(ascii: "=")),
            symbols.allSatisfy({ Base62.isSymbol($0) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") }),
            let bytes = Base64.decode(String(text)), bytes.count == 32
        else { return nil }
        return bytes
    }
}
