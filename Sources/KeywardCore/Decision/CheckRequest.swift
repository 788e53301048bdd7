/// The facts of one request that the decision depends on, already pulled out of server params.
///
/// The method, path, address and the usual credential locations are read up front: every check
/// needs them. Anything else a credential kind may need (another header, the target's scheme and
/// authority, the body) is read from `source` only when an authenticator asks for it.
public struct CheckRequest {
    /// HTTP method as the server reported it (RFC 3875 §4.1.12 `REQUEST_METHOD`).
    public var method: String
    /// The normalised path, or why it could not be normalised.
    public var path: Result<String, PathNormalizer.Refusal>
    /// The client address as the server saw it.
    public var remoteAddress: String?
    /// The `Authorization` header value (`HTTP_AUTHORIZATION`); nil when absent.
    public var authorization: String?
    /// The `X-API-Key` header value (`HTTP_X_API_KEY`); nil when absent.
    public var apiKeyHeader: String?
    /// The raw query string, where `APIKey=` / `api_key=` may be.
    public var query: Substring?
    /// Every other header, and the body, on demand; nil when nothing more is known (tests, explain).
    public var source: (any RequestSource)?
    /// The signed-request credential the server bound this path to (`KEYWARD_HMAC_CREDENTIAL`, set
    /// in the server's configuration, never by the client): the one a bare `Authorization: HMAC
    /// <mac>` is checked against. Nil: the path is bound to none, and the bare form is refused.
    /// Read from the source when first asked (only the bare form asks), unless set here.
    public var boundCredential: String? {
        get { boundOverride ?? source?.boundCredential }
        set { boundOverride = newValue }
    }
    private var boundOverride: String? = nil

    /// A request from facts already pulled out; the credential locations default to absent.
    public init(
        method: String, path: Result<String, PathNormalizer.Refusal>, remoteAddress: String?,
        authorization: String? = nil, apiKeyHeader: String? = nil, query: Substring? = nil,
        source: (any RequestSource)? = nil
    ) {
        self.method = method
        self.path = path
        self.remoteAddress = remoteAddress
        self.authorization = authorization
        self.apiKeyHeader = apiKeyHeader
        self.query = query
        self.source = source
    }

    /// The request target as the client sent it, with the scheme and authority it was sent to.
    public var target: RequestTarget { source?.target ?? RequestTarget() }

    /// The value of the header `name` (any case, as on the wire: `Signature-Input`); nil when
    /// absent. A header the server passed twice reads as a lone NUL, which every parser refuses.
    public func header(_ name: String) -> String? {
        if Self.sameFieldName(name, "authorization") { return authorization }
        if Self.sameFieldName(name, "x-api-key") { return apiKeyHeader }
        return source?.header(name)
    }

    /// `name` is `lower` in any case (field names are ASCII, RFC 9110 §5.1), without allocating.
    public static func sameFieldName(_ name: String, _ lower: String) -> Bool {
        guard name.utf8.count == lower.utf8.count else { return false }
        var expected = lower.utf8.makeIterator()
        for c in name.utf8 where c | 0x20 != expected.next() { return false }
        return true
    }

    /// The request body, at most `limit` bytes; nil when it is larger, or cannot reach Keyward
    /// (an authorizer, or an `auth_request` subrequest, gets no body). Read it once: the stream
    /// cannot be rewound.
    public func body(limit: Int) -> [UInt8]? {
        guard bodyAvailable else { return nil }
        return source?.body(limit: limit)
    }

    /// True when the server hands Keyward the body of this request: nginx with
    /// `keyward-signed.conf`, Keyward's own endpoints. Never for an `auth_request` subrequest or
    /// an authorizer (Apache `mod_authnz_fcgi`, lighttpd), which get no body.
    public var bodyAvailable: Bool { source?.carriesBody ?? false }

    /// True when the request says it has content (RFC 9110 §6.4.1, RFC 9112 §6.3): a
    /// `Content-Length` other than 0, or any `Transfer-Encoding`. A POST, PUT or PATCH without a
    /// `Content-Length` counts as having content: an HTTP/2 client need not send the field, and
    /// an authorizer may not be told it; a body nobody declared must not go unverified.
    public var declaresBody: Bool {
        if let te = header("Transfer-Encoding"), !te.trimmed.isEmpty { return true }
        if let length = header("Content-Length")?.trimmed, !length.isEmpty { return Int(length) != 0 }
        return ["POST", "PUT", "PATCH"].contains(method.uppercased())
    }
}

/// The request target (RFC 9110 §7.1) and where it was sent.
public struct RequestTarget: Sendable, Equatable {
    /// `https` or `http`, as the server reported it (`HTTPS=on` or `REQUEST_SCHEME`); nil when unknown.
    public var scheme: String?
    /// The `Host` the client named (RFC 9110 §7.2); nil when unknown.
    public var authority: String?
    /// The target exactly as the client sent it (`REQUEST_URI`, with its query); nil when unknown.
    public var raw: String?

    /// A target from what the server passed; every part may be unknown.
    public init(scheme: String? = nil, authority: String? = nil, raw: String? = nil) {
        self.scheme = scheme
        self.authority = authority
        self.raw = raw
    }
}

/// The rest of a request, read only when a credential kind needs it.
public protocol RequestSource {
    /// The target, scheme and authority, as the server reported them.
    var target: RequestTarget { get }
    /// The value of header `name` (field name in any case); nil when absent, a lone NUL when repeated.
    func header(_ name: String) -> String?
    /// At most `limit` bytes of body; nil when larger or unavailable.
    func body(limit: Int) -> [UInt8]?
    /// True when the body reached Keyward (a responder); false for a check or an authorizer,
    /// whose input stream is empty whatever the request carried.
    var carriesBody: Bool { get }
    /// The credential the server's configuration binds the path to (`KEYWARD_HMAC_CREDENTIAL`).
    var boundCredential: String? { get }
}

extension RequestSource {
    /// Sources that hold a body (tests) carry it.
    public var carriesBody: Bool { true }
    /// Sources without server configuration bind nothing.
    public var boundCredential: String? { nil }
}
