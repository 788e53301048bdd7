import KeywardCore
import KeywardCrypto

/// Settings the gateway needs from the configuration.
public struct GatewayConfig: Sendable {
    /// Path prefix the app is mounted under, removed from `REQUEST_URI` before routing.
    public var mount: String
    /// Bounds used when pulling a `CheckRequest` out of the params.
    public var limits: Limits
    /// Where the client's address comes from: `REMOTE_ADDR`, or a trusted proxy's header.
    public var client: ClientAddressRule

    /// A trailing `/` on `mount` is dropped, so `/auth/` and `/auth` route alike.
    public init(mount: String = "", limits: Limits = Limits(), client: ClientAddressRule = ClientAddressRule()) {
        self.mount = mount.hasSuffix("/") ? String(mount.dropLast()) : mount
        self.limits = limits
        self.client = client
    }
}

/// Serves the admin paths (`/admin/...` below the mount): the JSON API and the reveal links.
///
/// Implemented outside the gateway (KeywardAdminHTTP), so the gateway needs no store; one per worker
/// thread, like the gateway that holds it, and consulted only for responder requests under
/// `/admin/`, never on the check path.
public protocol AdminEndpoint: AnyObject {
    /// The response to one request for `path` (below the mount, starting with `/admin/`).
    func respond<P: ParamSource>(_ params: P, path: String, method: String) -> Response
}

/// Serves one request: role dispatch, the check, and the responder endpoints.
///
/// One per worker thread (its authenticator holds that thread's store connection).
public final class Gateway {
    let config: GatewayConfig
    let authenticator: Authenticator
    let tokenService: TokenService?
    let admin: (any AdminEndpoint)?
    let log: @Sendable (String) -> Void

    /// A gateway for one worker thread.
    ///
    /// `authenticator` must hold that thread's key lookup; `tokenService` (nil: no token endpoints)
    /// that thread's signing keys; `admin` (nil: no admin paths) serves everything under `/admin/`;
    /// `log` gets one line per infrastructure failure, tagged with a stable `KW` id.
    public init(
        config: GatewayConfig, authenticator: Authenticator, tokenService: TokenService? = nil,
        admin: (any AdminEndpoint)? = nil, log: @escaping @Sendable (String) -> Void
    ) {
        self.config = config
        self.authenticator = authenticator
        self.tokenService = tokenService
        self.admin = admin
        self.log = log
    }

    /// The response to one request. Never throws: infrastructure failures become a generic 500.
    public func handle(_ params: some ParamSource, role: Role) -> Response {
        switch outcome(params, role: role) {
        case .allowed(let identity, let flavour): CheckResponder.allow(identity, flavour: flavour)
        case .response(let response): response
        }
    }

    /// The bytes to write for one request: what `handle` returns, serialised. An allowed check's
    /// reply depends only on the identity, so this worker keeps the bytes per credential.
    public func respond(_ params: some ParamSource, role: Role) -> [UInt8] {
        switch outcome(params, role: role) {
        case .allowed(let identity, let flavour):
            if let hit = allowReplies[identity.credential], hit.flavour == flavour, hit.identity == identity {
                return hit.bytes
            }
            let bytes = CheckResponder.allow(identity, flavour: flavour).serialized()
            if allowReplies.count >= config.limits.allowReplyCache { allowReplies.removeAll(keepingCapacity: true) }
            allowReplies[identity.credential] = (identity, flavour, bytes)
            return bytes
        case .response(let response):
            return response.serialized()
        }
    }

    private var allowReplies: [String: (identity: Identity, flavour: CheckResponder.Flavour, bytes: [UInt8])] = [:]

    private enum Outcome {
        case allowed(Identity, CheckResponder.Flavour)
        case response(Response)
    }

    private func outcome(_ params: some ParamSource, role: Role) -> Outcome {
        switch role {
        case .authorizer:
            return check(params, flavour: .authorizer)
        case .responder:
            switch params.param("KEYWARD_CHECK") {
            case "body"?:
                // nginx/keyward-signed.conf: the request itself, body and all; allowed ones go on
                // to the named location KEYWARD_NEXT.
                guard let next = params.param("KEYWARD_NEXT"), CheckResponder.isNamedLocation(next) else {
                    log("keyward[KW0302]: KEYWARD_CHECK=body without a valid KEYWARD_NEXT (a named location, @name): see nginx/keyward-signed.conf")
                    return .response(Self.internalError)
                }
                return check(params, flavour: .nginxBody(next: next))
            case let value? where !value.isEmpty && value != "0":
                return check(params, flavour: .nginx)
            default:
                return .response(route(params))
            }
        }
    }

    private func check(_ params: some ParamSource, flavour: CheckResponder.Flavour) -> Outcome {
        let request = CheckRequest(params: params, limits: config.limits, client: config.client, carriesBody: flavour.carriesBody)
        do {
            switch try authenticator.check(request) {
            case .allow(let identity): return .allowed(identity, flavour)
            case .deny(let denial): return .response(CheckResponder.deny(denial, flavour: flavour))
            }
        } catch {
            log("keyward[KW0301]: check failed: \(error)")
            return .response(Self.internalError)
        }
    }

    private func route(_ params: some ParamSource) -> Response {
        let method = params.param("REQUEST_METHOD") ?? "GET"
        let path = routePath(params)
        if path.hasPrefix("/admin/") {
            guard let admin else { return Self.notFound }
            return admin.respond(params, path: path, method: method)
        }
        if path == "/admin", admin != nil {
            // A person typing the address without its slash: the pages' home.
            return Response(status: 303, headers: [("Location", config.mount + "/admin/"), ("Content-Length", "0")])
        }
        switch path {
        case "/healthz":
            guard method == "GET" || method == "HEAD" else { return Self.methodNotAllowed("GET, HEAD") }
            return .json(200, .object([("status", .string("ok"))]))
        case "/token": return token(params)
        case "/api/ApiToken/GenerateAccessTokenFromApiToken": return exchangeFromHeader(params)
        case "/introspect": return introspect(params)
        case "/revoke": return revoke(params)
        case "/.well-known/jwks.json": return jwks(params)
        case "/.well-known/oauth-authorization-server": return metadata(params)
        // RFC 8414 §3.1: for an issuer with a path, discovery inserts the well-known part first.
        case "/.well-known/oauth-authorization-server" + config.mount where !config.mount.isEmpty: return metadata(params)
        default: return Self.notFound
        }
    }

    /// `PATH_INFO` when the server splits it, else the path of `REQUEST_URI` below the mount prefix.
    ///
    /// A request target in absolute form (`GET https://host/keyward/token`, RFC 9112 §3.2.2) is
    /// routed by its path: Apache passes the raw target as `REQUEST_URI`, where nginx's
    /// `$request_uri` already has the origin form.
    func routePath(_ params: some ParamSource) -> String {
        if let info = params.param("PATH_INFO"), !info.isEmpty { return info }
        let uri = params.param("REQUEST_URI") ?? "/"
        let target = Substring(uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "/")
        var path = PathNormalizer.originForm(target) ?? target
        if !config.mount.isEmpty, path.hasPrefix(config.mount) {
            path = path.dropFirst(config.mount.count)
            if path.isEmpty { path = "/" }
        }
        return String(path)
    }

    static let notFound = Response.error(404, ErrorBody(code: "not_found", "No such endpoint."))

    static let internalError = Response.error(500, ErrorBody(code: "internal_error", "Internal error.", error: "server_error"))

    static func methodNotAllowed(_ allow: String) -> Response {
        .error(405, ErrorBody(code: "method_not_allowed", "Method not allowed."), headers: [("Allow", allow)])
    }
}
