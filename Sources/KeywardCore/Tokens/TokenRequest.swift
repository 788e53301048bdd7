/// What a token request asks for besides its parent credential: a scope, the targets it names
/// (RFC 8693 §2.1 `audience`, RFC 8707 §2 `resource`), and for an exchange of one of Keyward's
/// own access tokens (RFC 8693 down-scoping), that token, whose scope and expiry the new one
/// stays within.
public struct TokenRequest: Sendable {
    /// `scope`: space-separated path scopes; nil or empty for everything the ceiling allows.
    public var scope: String?
    /// `audience` values: Keyward's own audience or issuer, or a registered resource's name.
    public var audiences: [String]
    /// `resource` values: absolute URIs on the issuer's origin or the request's own.
    public var resources: [String]
    /// The access token being exchanged, nil when the parent itself is presented.
    public var subject: AccessTokenClaims?
    /// The origin the request was sent to (`https://host:port`), which a `resource` may name
    /// besides the issuer's.
    public var requestOrigin: String?

    /// A request; every part is optional.
    public init(
        scope: String? = nil, audiences: [String] = [], resources: [String] = [], subject: AccessTokenClaims? = nil,
        requestOrigin: String? = nil
    ) {
        self.scope = scope
        self.audiences = audiences
        self.resources = resources
        self.subject = subject
        self.requestOrigin = requestOrigin
    }
}

/// Why a token could not be issued: an RFC 6749 §5.2 / RFC 8693 §2.2.2 / RFC 8707 §2 error code
/// and a message that says which rule refused it (never the values sent: they are the client's).
public struct IssueRefusal: Error, Equatable, Sendable {
    /// The OAuth error codes a refusal maps to.
    public enum Code: String, Sendable {
        case invalidGrant = "invalid_grant"
        case invalidScope = "invalid_scope"
        case invalidTarget = "invalid_target"
    }

    /// The error code.
    public let code: Code
    /// What was wrong, for `error_description`.
    public let message: String

    /// A refusal with its code and message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The parent credential cannot be used (disabled, expired, owner disabled).
    public static let invalidGrant = IssueRefusal(.invalidGrant, "The credential is invalid, expired or disabled.")
    /// A requested scope is not within what the credential (or the exchanged token) may access.
    public static let invalidScope = IssueRefusal(
        .invalidScope, "The requested scope exceeds what the credential may access, or is not a path scope.")
    /// A scope outside the audience or resource the request names.
    static let scopeOutsideTarget = IssueRefusal(.invalidScope, "The requested scope lies outside the audience or resource requested.")
    static let unknownAudience = IssueRefusal(
        .invalidTarget, "The audience names neither this server's token audience nor a resource it protects.")
    static let malformedResource = IssueRefusal(
        .invalidTarget, "A resource must be an absolute http or https URI without a query or fragment (RFC 8707 §2).")
    static let foreignResource = IssueRefusal(.invalidTarget, "The resource is not on a host this server issues tokens for.")
    static let unreachableTarget = IssueRefusal(
        .invalidTarget, "The credential may not reach the audience or resource requested.")
}

/// The targets of a request, resolved against the issuer and the access model.
enum TokenTargets {
    /// The path scopes the named targets stand for; nil when they name nothing but Keyward
    /// itself (its audience, its issuer), which narrows nothing.
    static func resolve(_ request: TokenRequest, policy: TokenPolicy, resources: [Resource]) throws(IssueRefusal) -> [PathScope]? {
        var scopes: [PathScope] = []
        for audience in request.audiences {
            if audience == policy.audience || audience == policy.issuer { continue }
            guard let resource = resources.first(where: { $0.name == audience }) else { throw .unknownAudience }
            scopes.append(resource.scope)
        }
        let issuer = AbsoluteURI(policy.issuer)
        for text in request.resources {
            guard let uri = AbsoluteURI(text) else { throw .malformedResource }
            guard uri.origin == issuer?.origin || uri.origin == request.requestOrigin.flatMap(AbsoluteURI.init)?.origin
            else { throw .foreignResource }
            // The issuer's own URL, or anything under it: Keyward's endpoints, not a protected path.
            if let issuer, uri.origin == issuer.origin, PathScope(issuer.path).map({ $0.covers(path: uri.path) }) ?? false { continue }
            guard !uri.path.contains("%"), let scope = PathScope(uri.path) else { throw .malformedResource }
            scopes.append(scope)
        }
        return scopes.isEmpty ? nil : scopes
    }
}

/// The parts of an absolute http(s) URI a resource indicator needs (RFC 3986 §4.3, RFC 8707 §2).
struct AbsoluteURI: Equatable {
    /// `scheme://host[:port]`, lower-cased, without the scheme's default port.
    let origin: String
    /// The path, `/` when empty.
    let path: String

    /// Nil unless `text` is `http://` or `https://`, an authority without user information, and a
    /// path with neither query nor fragment.
    init?(_ text: String) {
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https" } else if lower.hasPrefix("http://") { scheme = "http" } else { return nil }
        let rest = text.dropFirst(scheme.count + 3)
        guard !rest.contains("?"), !rest.contains("#"), !rest.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value >= 0x7F })
        else { return nil }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash].lowercased()
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        let defaultPort = scheme == "https" ? ":443" : ":80"
        if authority.hasSuffix(defaultPort) { authority.removeLast(defaultPort.count) }
        origin = scheme + "://" + authority
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
    }
}
