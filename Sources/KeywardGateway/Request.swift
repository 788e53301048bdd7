import KeywardCore

/// Where request parameters come from: FastCGI params, or the environment in CGI mode.
///
/// Lookups are by exact CGI name (`HTTP_AUTHORIZATION`), first occurrence wins (what libfcgi's
/// `FCGX_GetParam` does). Implementations copy the value; nothing outlives the request. Names are
/// static strings: they reach C as NUL-terminated bytes without a temporary copy per lookup.
public protocol ParamSource {
    func param(_ name: StaticString) -> String?
    /// `param` for a name made at run time (`HTTP_SIGNATURE_INPUT`), for the headers only some
    /// credential kinds read.
    func param(named name: String) -> String?
    /// True when the server sent `name` more than once. lighttpd, for one, passes a client's
    /// `X_Forwarded_For` under the same name as its `X-Forwarded-For`; `param` sees the first.
    func isRepeated(_ name: StaticString) -> Bool
    /// `isRepeated` for a name made at run time.
    func isRepeated(named name: String) -> Bool
    /// Reads at most `limit` bytes of the request body; nil when it is larger than that.
    func readBody(limit: Int) -> [UInt8]?
}

extension ParamSource {
    /// Sources whose names are unique (a dictionary, the environment) never repeat one.
    public func isRepeated(_ name: StaticString) -> Bool { false }
    /// Sources whose names are unique (a dictionary, the environment) never repeat one.
    public func isRepeated(named name: String) -> Bool { false }

    /// The value of `name` when it is sent once; a repeated one reads as a lone NUL, which every
    /// parser downstream refuses (an address names no client, a credential is malformed): which
    /// copy a backend would believe is not Keyward's to guess.
    public func unambiguous(_ name: StaticString) -> String? {
        guard let value = param(name) else { return nil }
        return isRepeated(name) ? "\u{0}" : value
    }
}

/// The FastCGI role a request arrived in (FastCGI 1.0 §6).
public enum Role: Sendable {
    case responder, authorizer

    /// From `FCGI_ROLE`; anything but AUTHORIZER is served as a responder.
    public init(fcgiRole: String?) {
        self = fcgiRole == "AUTHORIZER" ? .authorizer : .responder
    }
}

/// Parameters held in a dictionary, for CGI mode and tests.
public struct DictionaryParams: ParamSource {
    /// Values by exact CGI name (`HTTP_AUTHORIZATION`).
    public var values: [String: String]
    /// The whole request body.
    public var body: [UInt8]

    /// Params from `values`, with an empty body unless given.
    public init(_ values: [String: String], body: [UInt8] = []) {
        self.values = values
        self.body = body
    }

    /// The value stored under exactly `name` (possibly empty), or nil.
    public func param(_ name: StaticString) -> String? { values[name.description] }
    /// The value stored under exactly `name` (possibly empty), or nil.
    public func param(named name: String) -> String? { values[name] }
    /// The whole body, or nil when it is over `limit` bytes.
    public func readBody(limit: Int) -> [UInt8]? { body.count <= limit ? body : nil }
}

extension CheckRequest {
    /// The facts of the request being checked, from the server's params.
    ///
    /// The path is the server's normalised `AUTH_PATH` when set, else Keyward's own strict
    /// normalisation of the raw `REQUEST_URI`. `X-Original-URI` is never read. `carriesBody`:
    /// the params come with the request's body (a responder), not an empty input stream (an
    /// `auth_request` subrequest, an authorizer).
    init(params: some ParamSource, limits: Limits, client: ClientAddressRule = ClientAddressRule(), carriesBody: Bool = false) {
        func value(_ name: StaticString) -> String? {
            guard let v = params.param(name), !v.isEmpty else { return nil }
            return v
        }
        let requestURI = value("REQUEST_URI")
        let path = PathNormalizer.checkedPath(
            serverPath: value("AUTH_PATH"),
            requestURI: requestURI ?? (value("SCRIPT_NAME") ?? "") + (value("PATH_INFO") ?? "/"), limits: limits)
        var query: Substring? = nil
        if let requestURI, let mark = requestURI.utf8.firstIndex(of: UInt8(ascii: "?")) {
            query = requestURI[requestURI.utf8.index(after: mark)...]
        } else if let q = value("QUERY_STRING") {
            query = q[...]
        }
        self.init(
            method: value("REQUEST_METHOD") ?? "GET", path: path, remoteAddress: client.address(params),
            authorization: params.unambiguous("HTTP_AUTHORIZATION"), apiKeyHeader: params.unambiguous("HTTP_X_API_KEY"),
            query: query, source: ParamRequestSource(params, carriesBody: carriesBody))
    }
}

/// The rest of a checked request, read from the server's params only when a credential kind asks.
/// A value (no allocation per check): the params it wraps are a pointer or a dictionary.
public struct ParamRequestSource<P: ParamSource>: RequestSource {
    private let params: P
    /// True for a responder, whose input stream is the request's body.
    public let carriesBody: Bool

    /// The request `params` describe; `carriesBody` when its input stream is the request's body.
    public init(_ params: P, carriesBody: Bool = false) {
        self.params = params
        self.carriesBody = carriesBody
    }

    /// `KEYWARD_HMAC_CREDENTIAL`: a param of the server's configuration (a client's fields all
    /// arrive as `HTTP_*`); empty counts as none.
    public var boundCredential: String? {
        guard let value = params.param("KEYWARD_HMAC_CREDENTIAL"), !value.isEmpty else { return nil }
        return value
    }

    public var target: RequestTarget {
        let https = params.param("HTTPS").map { $0.lowercased() == "on" } ?? false
        return RequestTarget(
            scheme: https ? "https" : params.param("REQUEST_SCHEME").flatMap { $0.isEmpty ? nil : $0.lowercased() },
            authority: params.unambiguous("HTTP_HOST"), raw: params.param("REQUEST_URI"))
    }

    /// `Content-Type` and `Content-Length` are meta-variables of their own (RFC 3875 §4.1.2-3),
    /// which an `auth_request` subrequest does not get: there they are read from the `HTTP_`
    /// copies nginx passes of every client field. Apache's authorizer gets neither the length
    /// nor `Transfer-Encoding`: apache/keyward.conf copies them into `KEYWARD_CONTENT_LENGTH` and
    /// `KEYWARD_TRANSFER_ENCODING` (names a client cannot send). Every other header is `HTTP_` +
    /// its name in upper case with `-` as `_` (§4.1.18).
    public func header(_ name: String) -> String? {
        // The fields signed requests read on every check, by static name: no name is built.
        switch name.utf8.count {
        case 15 where CheckRequest.sameFieldName(name, "signature-input"): return staticValue("HTTP_SIGNATURE_INPUT")
        case 9 where CheckRequest.sameFieldName(name, "signature"): return staticValue("HTTP_SIGNATURE")
        case 14 where CheckRequest.sameFieldName(name, "content-digest"): return staticValue("HTTP_CONTENT_DIGEST")
        case 4 where CheckRequest.sameFieldName(name, "host"): return staticValue("HTTP_HOST")
        case 14 where CheckRequest.sameFieldName(name, "content-length"):
            if let value = staticValue("CONTENT_LENGTH"), !value.isEmpty { return value }
            return staticValue("HTTP_CONTENT_LENGTH") ?? staticValue("KEYWARD_CONTENT_LENGTH")
        case 17 where CheckRequest.sameFieldName(name, "transfer-encoding"):
            return staticValue("HTTP_TRANSFER_ENCODING") ?? staticValue("KEYWARD_TRANSFER_ENCODING")
        default: break
        }
        // `HTTP_` and the name in upper case with `_` for `-`, byte by byte: field names are
        // ASCII tokens, and this runs several times per signed request.
        var cgi = Array("HTTP_".utf8)
        cgi.reserveCapacity(5 + name.utf8.count)
        for c in name.utf8 {
            cgi.append(c == UInt8(ascii: "-") ? UInt8(ascii: "_") : (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") ? c - 32 : c))
        }
        // Content-Length and Transfer-Encoding were answered above; Content-Type is the other
        // meta-variable of its own.
        if cgi[5...].elementsEqual("CONTENT_TYPE".utf8), let value = cgiValue("CONTENT_TYPE"), !value.isEmpty { return value }
        return cgiValue(String(decoding: cgi, as: UTF8.self))
    }

    private func staticValue(_ cgi: StaticString) -> String? {
        guard let value = params.param(cgi) else { return nil }
        return params.isRepeated(cgi) ? "\u{0}" : value
    }

    private func cgiValue(_ cgi: String) -> String? {
        guard let value = params.param(named: cgi) else { return nil }
        return params.isRepeated(named: cgi) ? "\u{0}" : value
    }

    /// The stream cannot be rewound: the first call reads the body; an authenticator that needs
    /// it twice keeps it. Nil when no body reaches Keyward, or when fewer or more bytes arrive
    /// than `CONTENT_LENGTH` declares (a body cut short is not the body that was signed).
    public func body(limit: Int) -> [UInt8]? {
        guard carriesBody, let body = params.readBody(limit: limit) else { return nil }
        if let declared = params.param("CONTENT_LENGTH").flatMap({ $0.isEmpty ? nil : Int($0) }), declared != body.count { return nil }
        return body
    }
}

/// Where the client's address comes from: `REMOTE_ADDR`, or a trusted proxy's header.
public struct ClientAddressRule: Sendable {
    /// Proxies whose header names the client; empty: `REMOTE_ADDR` only.
    public var trustedProxies: [CIDR]
    /// The header those proxies name the client in.
    public var header: ClientAddress.Header

    /// `REMOTE_ADDR` alone unless proxies are given.
    public init(trustedProxies: [CIDR] = [], header: ClientAddress.Header = .forwardedFor) {
        self.trustedProxies = trustedProxies
        self.header = header
    }

    /// The client address of the request `params` describe (the check's, or an endpoint's own).
    public func address(_ params: some ParamSource) -> String? {
        let peer = params.param("REMOTE_ADDR").flatMap { $0.isEmpty ? nil : $0 }
        guard !trustedProxies.isEmpty else { return peer }
        let value = header == .forwardedFor ? params.unambiguous("HTTP_X_FORWARDED_FOR") : params.unambiguous("HTTP_X_REAL_IP")
        return ClientAddress.resolve(peer: peer, header: header, value: value, trustedProxies: trustedProxies)
    }
}
