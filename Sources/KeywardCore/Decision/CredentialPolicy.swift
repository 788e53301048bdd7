/// The one place the credential rules live: status, owner, expiry, revocation, networks, scopes
/// and resources. The check, the token endpoints and the admin API all ask here, for every
/// credential kind alike; an authenticator only proves possession.
public enum CredentialPolicy {
    /// Why the credential may not be used at all right now: its status, its owner's, its expiry;
    /// nil when it may. `viaToken`: a token stands for it, so expiry reads as an invalid token.
    public static func standing(of key: CredentialRecord, now: Int64, viaToken: Bool = false) -> DenyReason? {
        if key.status != .active { return .credentialDisabled }
        if key.userStatus != .active { return .userDisabled }
        if let expiry = key.expiresAt, expiry <= now { return viaToken ? .invalidCredential : .credentialExpired }
        return nil
    }

    /// The credential's own rules that do not depend on a path: `standing`, then its networks.
    /// What Keyward's own endpoints (token exchange, client authentication) apply.
    public static func admits(_ key: CredentialRecord, from address: String?, now: Int64) -> DenyReason? {
        if let reason = standing(of: key, now: now) { return reason }
        return admits(key.allowedNetworks, address) ? nil : .addressNotAllowed
    }

    /// The parent credential of a verified token while the token still stands for it: the token
    /// is not revoked, the parent exists, belongs to the token's subject, and its grant was not
    /// revoked since the token was issued. Its own rules are `standing`'s and `authorize`'s.
    public static func parent(of claims: AccessTokenClaims, in keys: any CredentialLookup) throws -> CredentialRecord? {
        guard !(try keys.isRevoked(tokenId: claims.id)), let parent = try keys.credential(id: claims.clientId),
            parent.userName == claims.subject, parent.isCurrent(claims)
        else { return nil }
        return parent
    }

    /// The rules for a verified credential at a request: `standing`, then address, path and
    /// method against the credential's own scopes and, for a token, the token's too; then, under a
    /// resource, the resource's networks and methods and the user's grant to it.
    public static func authorize(
        _ verified: VerifiedCredential, request: CheckRequest, now: Int64,
        access: AccessContext = .none, trace: DecisionTrace? = nil
    ) -> Decision {
        let key = verified.record
        let tokenScopes = verified.tokenScopes
        func deny(_ reason: DenyReason, _ why: @autoclosure () -> String) -> Decision {
            trace?.note("denied: " + why())
            return .deny(Denial(reason, credential: key.id, user: key.userName))
        }
        if let reason = standing(of: key, now: now, viaToken: verified.viaToken) {
            switch reason {
            case .credentialDisabled: return deny(reason, "the credential is disabled")
            case .userDisabled: return deny(reason, "user \(key.userName) is disabled")
            default: return deny(reason, "the credential expired at \(key.expiresAt ?? 0) (now \(now))")
            }
        }
        trace?.note("status active, user \(key.userName) active, " + (key.expiresAt.map { "expires at \($0)" } ?? "never expires"))
        if !key.allowedNetworks.isEmpty {
            guard admits(key.allowedNetworks, request.remoteAddress) else {
                return deny(
                    .addressNotAllowed,
                    "\(request.remoteAddress ?? "no address") is outside the credential's networks \(key.allowedNetworks.map(\.description).joined(separator: ", "))"
                )
            }
            trace?.note("address \(request.remoteAddress ?? "") is inside the credential's networks")
        }
        guard case .success(let path) = request.path else { return deny(.pathRejected, "the path cannot be interpreted safely") }
        for scopes in [key.scopes, tokenScopes ?? []] where !scopes.isEmpty {
            let covering = scopes.filter { $0.covers(path: path) }
            if covering.isEmpty { return deny(.pathNotAllowed, "no scope of \(scopes.map(\.description).joined(separator: " ")) covers \(path)") }
            guard let allowing = covering.first(where: { $0.allows(method: request.method) }) else {
                return deny(
                    .methodNotAllowed,
                    "the scopes covering \(path) (\(covering.map(\.description).joined(separator: " "))) do not allow \(request.method)")
            }
            trace?.note("scope \(allowing.description) allows \(request.method) \(path)")
        }
        if key.scopes.isEmpty && tokenScopes?.isEmpty ?? true { trace?.note("the credential has no scopes: every path") }
        if let resource = access.resource, let index = access.index {
            if !admits(resource.allowedNetworks, request.remoteAddress) {
                return deny(
                    .addressNotAllowed,
                    "\(request.remoteAddress ?? "no address") is outside resource \(resource.name)'s networks \(resource.allowedNetworks.map(\.description).joined(separator: ", "))"
                )
            }
            if !resource.scope.allows(method: request.method) {
                return deny(
                    .methodNotAllowed, "resource \(resource.name) allows \(resource.scope.methods.joined(separator: ",")), not \(request.method)")
            }
            guard access.model.admits(key.userName, resourceAt: index) else {
                return deny(
                    .resourceNotAllowed,
                    "user \(key.userName) is not the owner of resource \(resource.name), not in its audience \(resource.audience.map(\.description).joined(separator: " ")), and holds no \(Privilege.access(resource.name))"
                )
            }
            trace?.note("user \(key.userName) may call resource \(resource.name): \(access.model.grant(for: key.userName, to: resource) ?? "?")")
        }
        let shown = tokenScopes.map { $0.map(\.description) } ?? (key.scopes.isEmpty ? ["*"] : key.scopes.map(\.description))
        trace?.note("allowed")
        return .allow(
            Identity(
                user: key.userName, subject: key.service.map { Identity.servicePrefix + $0 } ?? key.userName, credential: key.id,
                method: verified.method, scopes: shown.isEmpty ? ["*"] : shown, service: key.service))
    }

    /// A request without a credential on an anonymous resource: only its address and method rules apply.
    public static func admitAnonymous(_ resource: Resource, request: CheckRequest, trace: DecisionTrace? = nil) -> Decision {
        trace?.note("no credential presented; resource \(resource.name) allows anonymous access")
        if !admits(resource.allowedNetworks, request.remoteAddress) {
            trace?.note(
                "denied: \(request.remoteAddress ?? "no address") is outside the resource's networks \(resource.allowedNetworks.map(\.description).joined(separator: ", "))"
            )
            return .deny(Denial(.addressNotAllowed))
        }
        if !resource.scope.allows(method: request.method) {
            trace?.note("denied: the resource allows \(resource.scope.methods.joined(separator: ",")), not \(request.method)")
            return .deny(Denial(.methodNotAllowed))
        }
        trace?.note("allowed anonymously")
        return .allow(
            Identity(
                user: Identity.anonymousUser, subject: Identity.anonymousUser, credential: "", method: .anonymous,
                scopes: [resource.scope.description]))
    }

    /// True when `networks` is empty or holds the address.
    public static func admits(_ networks: [CIDR], _ address: String?) -> Bool {
        guard !networks.isEmpty else { return true }
        guard let ip = address.flatMap({ IPAddress($0) }) else { return false }
        return networks.contains { $0.contains(ip) }
    }
}

/// The access model a check runs under and the resource its path falls under.
public struct AccessContext: Sendable {
    /// Groups, roles and resources as of the check.
    public let model: AccessModel
    /// The matched resource's index in `model.resources`.
    public let index: Int?
    /// The resource the path falls under, if any.
    public var resource: Resource? { index.map { model.resources[$0] } }
    /// No resources: the credential's own rules alone.
    public static let none = AccessContext(model: AccessModel(), index: nil)

    /// The context of a check under `model`, for the resource at `index`.
    public init(model: AccessModel, index: Int?) {
        self.model = model
        self.index = index
    }
}
