import Foundation
import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

// The endpoints of the admin JSON API. Paths are below `/admin/api/`; docs/admin-openapi.json
// describes each (and a unit test keeps the two in step).
extension AdminAPI {
    static func routes() -> [Route] {
        [
            Route("GET", "openapi.json", .open(AdminAPI.openAPI)),
            Route("POST", "session", .open(AdminAPI.signIn)),
            Route("DELETE", "session", AdminAPI.signOut),
            Route("GET", "me", AdminAPI.me),
            Route("GET", "sessions", AdminAPI.listSessions),
            Route("DELETE", "sessions/{}", AdminAPI.revokeSession),

            Route("GET", "users", AdminAPI.listUsers),
            Route("POST", "users", AdminAPI.createUser),
            Route("GET", "users/{}", AdminAPI.showUser),
            Route("DELETE", "users/{}", AdminAPI.deleteUser),
            Route("POST", "users/{}/enable", AdminAPI.enableUser),
            Route("POST", "users/{}/disable", AdminAPI.disableUser),
            Route("PUT", "users/{}/password", AdminAPI.setPassword),
            Route("PUT", "users/{}/email", AdminAPI.setEmail),

            Route("GET", "groups", AdminAPI.listGroups),
            Route("POST", "groups", AdminAPI.createGroup),
            Route("GET", "groups/{}", AdminAPI.showGroup),
            Route("DELETE", "groups/{}", AdminAPI.deleteGroup),
            Route("POST", "groups/{}/members", AdminAPI.addMember),
            Route("DELETE", "groups/{}/members/{}", AdminAPI.removeMember),

            Route("GET", "roles", AdminAPI.listRoles),
            Route("POST", "roles", AdminAPI.createRole),
            Route("GET", "roles/{}", AdminAPI.showRole),
            Route("DELETE", "roles/{}", AdminAPI.deleteRole),
            Route("POST", "roles/{}/grants", AdminAPI.grantRole),
            Route("DELETE", "roles/{}/grants/{}", AdminAPI.revokeRole),

            Route("GET", "resources", AdminAPI.listResources),
            Route("POST", "resources", AdminAPI.createResource),
            Route("GET", "resources/{}", AdminAPI.showResource),
            Route("PATCH", "resources/{}", AdminAPI.updateResource),
            Route("DELETE", "resources/{}", AdminAPI.deleteResource),

            Route("GET", "keys", AdminAPI.listKeys),
            Route("POST", "keys", AdminAPI.createKey),
            Route("GET", "keys/{}", AdminAPI.showKey),
            Route("DELETE", "keys/{}", AdminAPI.deleteKey),
            Route("POST", "keys/{}/enable", AdminAPI.enableKey),
            Route("POST", "keys/{}/disable", AdminAPI.disableKey),
            Route("POST", "keys/{}/renew", AdminAPI.renewKey),
            Route("POST", "keys/{}/regenerate", AdminAPI.regenerateKey),

            Route("GET", "services", AdminAPI.listServices),
            Route("POST", "services", AdminAPI.createService),
            Route("GET", "services/{}", AdminAPI.showService),
            Route("POST", "services/{}/delete", AdminAPI.deleteService),
            Route("POST", "services/{}/credentials", AdminAPI.addServiceCredential),
            Route("POST", "services/{}/credentials/{}/discard", AdminAPI.discardServiceCredential),
            Route("POST", "services/{}/credentials/{}/reactivate", AdminAPI.reactivateServiceCredential),
            Route("POST", "services/{}/credentials/{}/delete", AdminAPI.deleteServiceCredential),
            Route("POST", "services/{}/credentials/{}/reveal", AdminAPI.revealServiceCredential),

            Route("GET", "hmac", AdminAPI.listRequestKeys),
            Route("POST", "hmac", AdminAPI.createRequestKey),
            Route("GET", "hmac/{}", AdminAPI.showRequestKey),
            Route("DELETE", "hmac/{}", AdminAPI.deleteRequestKey),
            Route("POST", "hmac/{}/enable", AdminAPI.enableRequestKey),
            Route("POST", "hmac/{}/disable", AdminAPI.disableRequestKey),
            Route("POST", "hmac/{}/renew", AdminAPI.renewRequestKey),
            Route("POST", "hmac/{}/secrets", AdminAPI.addRequestKeySecret),
            Route("POST", "hmac/{}/secrets/{}/discard", AdminAPI.discardRequestKeySecret),
            Route("POST", "hmac/{}/secrets/{}/reactivate", AdminAPI.reactivateRequestKeySecret),
            Route("POST", "hmac/{}/secrets/{}/delete", AdminAPI.deleteRequestKeySecret),
            Route("POST", "hmac/{}/secrets/{}/reveal", AdminAPI.revealRequestKeySecret),

            Route("POST", "access-requests", AdminAPI.requestAccess),
            Route("GET", "access-requests", AdminAPI.listAccessRequests),
            Route("GET", "access-requests/{}", AdminAPI.showAccessRequest),
            Route("POST", "access-requests/{}/approve", AdminAPI.approveAccess),
            Route("POST", "access-requests/{}/reject", AdminAPI.rejectAccess),

            Route("GET", "audit", AdminAPI.listAudit),
            Route("GET", "audit/export", AdminAPI.exportAudit),
            Route("GET", "explain", AdminAPI.explain),
        ]
    }

    // MARK: Document and caller

    func openAPI(_ request: APIRequest) throws -> Response {
        _ = try request.query([])
        return Response(
            status: 200, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-cache")],
            body: OpenAPI.document)
    }

    func me(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        guard let caller = request.caller else { throw AdminError.unauthenticated() }
        let user = try admin.user(caller.user)
        return APIResponse.json(
            200,
            .object([
                ("user", Render.user(user)), ("privileges", .strings(caller.privileges.sorted())),
                ("auth", .string(caller.via.name)), ("credential", .string(caller.credential)),
            ]))
    }

    // MARK: Sessions

    /// `GET /sessions?user=`: the caller's live sessions; admins anyone's (`user`) or everyone's (`user=*`).
    func listSessions(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let query = try request.query(["limit", "cursor", "user"])
        let page = try Page(query, list: "sessions", limits: config.limits)
        let user = query["user"] == "*" && admin.actor.isAdmin ? nil : query["user"] ?? admin.actor.user
        let current = request.caller.flatMap { $0.via.isSession ? $0.credential : nil }
        let order: (SessionInfo) -> String = { Render.padded($0.createdAt) + " " + $0.id }
        return page.answer(Page.sorted(try admin.sessions(user: user), by: order), key: order) {
            Render.session($0, idle: config.limits.sessionIdle, current: current)
        }
    }

    /// `DELETE /sessions/{id}`: ends one session, the caller's own or (admins) anyone's; ending
    /// the one in use also clears its cookie.
    func revokeSession(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        let ended = try admin.revokeSession(request.capture(0))
        guard case .session? = request.caller?.via, request.caller?.credential == ended.id else { return APIResponse.noContent() }
        return APIResponse.noContent(headers: [("Set-Cookie", Sessions.cookie(nil, config: config, https: request.https))])
    }

    // MARK: Users

    func listUsers(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let page = try Page(request.query(["limit", "cursor"]), list: "users", limits: config.limits)
        return page.answer(Page.sorted(try admin.users(), by: \.name), key: \.name, render: Render.user)
    }

    func createUser(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["name", "email", "password"])
        let name = try body.requiredString("name")
        let email = try body.string("email")
        let password = try body.string("password")
        try admin.requireAdmin()
        if let password { try Admin.checkPassword(password) }
        _ = try admin.addUser(name, email: email)
        // Hashed outside the user's transaction: scrypt should not hold the write lock.
        if let password { try admin.setPassword(name, password) }
        return APIResponse.json(201, Render.user(try admin.user(name)))
    }

    func showUser(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        return APIResponse.json(200, Render.user(try admin.user(request.capture(0))))
    }

    func deleteUser(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.setUser(request.capture(0), .delete)
        return APIResponse.noContent()
    }

    func enableUser(_ request: APIRequest, _ admin: Admin) throws -> Response { try userVerb(request, admin, .enable) }
    func disableUser(_ request: APIRequest, _ admin: Admin) throws -> Response { try userVerb(request, admin, .disable) }

    private func userVerb(_ request: APIRequest, _ admin: Admin, _ command: UserChange) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.setUser(request.capture(0), command)
        return APIResponse.json(200, Render.user(try admin.user(request.capture(0))))
    }

    /// `PUT /users/{name}/password` `{"password", "current_password"}`: admins set anyone's; users
    /// change their own in a signed-in session with the current password (an API key cannot). The
    /// user's other sessions end.
    func setPassword(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["password", "current_password"])
        let password = try body.requiredString("password")
        var keeping: [UInt8]? = nil
        if case .session(let idHash, _)? = request.caller?.via { keeping = idHash }
        if !admin.actor.isAdmin && keeping == nil {
            throw AdminError.forbidden("Change your password in a signed-in session, not with an API key.")
        }
        try admin.setPassword(request.capture(0), password, current: try body.string("current_password"), keeping: keeping)
        return APIResponse.noContent()
    }

    func setEmail(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["email"])
        guard body.has("email") else { throw AdminError.invalid("email is required (null clears it)") }
        try admin.setEmail(request.capture(0), try body.string("email"))
        return APIResponse.json(200, Render.user(try admin.user(request.capture(0))))
    }

    // MARK: Groups

    func listGroups(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let page = try Page(request.query(["limit", "cursor"]), list: "groups", limits: config.limits)
        return page.answer(Page.sorted(try admin.groups(), by: \.name), key: \.name, render: Render.group)
    }

    func createGroup(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let name = try request.json(["name"]).requiredString("name")
        return APIResponse.json(201, Render.group(try admin.addGroup(name)))
    }

    func showGroup(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        return APIResponse.json(200, Render.group(try admin.group(request.capture(0))))
    }

    func deleteGroup(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.deleteGroup(request.capture(0))
        return APIResponse.noContent()
    }

    func addMember(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let user = try request.json(["user"]).requiredString("user")
        try admin.setMember(group: request.capture(0), user: user, add: true)
        return APIResponse.json(200, Render.group(try admin.group(request.capture(0))))
    }

    func removeMember(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.setMember(group: request.capture(0), user: request.capture(1), add: false)
        return APIResponse.noContent()
    }

    // MARK: Roles

    func listRoles(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let page = try Page(request.query(["limit", "cursor"]), list: "roles", limits: config.limits)
        return page.answer(Page.sorted(try admin.roles(), by: \.name), key: \.name, render: Render.role)
    }

    func createRole(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["name", "privileges"])
        let name = try body.requiredString("name")
        guard let privileges = try body.strings("privileges") else { throw AdminError.invalid("privileges is required") }
        return APIResponse.json(201, Render.role(try admin.addRole(name, privileges: privileges)))
    }

    func showRole(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        return APIResponse.json(200, Render.role(try admin.role(request.capture(0))))
    }

    func deleteRole(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.deleteRole(request.capture(0))
        return APIResponse.noContent()
    }

    func grantRole(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let to = try Self.principal(try request.json(["to"]).requiredString("to"))
        try admin.setGrant(role: request.capture(0), to, grant: true)
        return APIResponse.json(200, Render.role(try admin.role(request.capture(0))))
    }

    func revokeRole(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.setGrant(role: request.capture(0), try Self.principal(request.capture(1)), grant: false)
        return APIResponse.noContent()
    }

    static func principal(_ text: String) throws -> Principal {
        guard let p = Principal(text) else { throw AdminError.invalid("a principal is user:NAME or group:NAME") }
        return p
    }

    // MARK: Resources

    func listResources(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let page = try Page(request.query(["limit", "cursor"]), list: "resources", limits: config.limits)
        return page.answer(Page.sorted(try admin.resources(), by: \.name), key: \.name, render: Render.resource)
    }

    func createResource(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["name", "path", "methods", "anonymous", "audience", "owner", "allow_ips"])
        let name = try body.requiredString("name")
        var spec = try Self.resourceSpec(body, path: try body.requiredString("path"))
        if spec.owner == .some(nil) { spec.owner = nil }
        return APIResponse.json(201, Render.resource(try admin.addResource(name, spec)))
    }

    func showResource(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        return APIResponse.json(200, Render.resource(try admin.resource(request.capture(0))))
    }

    func updateResource(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["path", "methods", "anonymous", "audience", "owner", "allow_ips"])
        var path = try body.string("path")
        if body.has("path") && path == nil { throw AdminError.invalid("path cannot be null") }
        // New methods alone keep the path: the scope is stored as both.
        if path == nil, body.has("methods") { path = try admin.resource(request.capture(0)).path }
        let spec = try Self.resourceSpec(body, path: path)
        guard spec.path != nil || spec.anonymous != nil || spec.audience != nil || spec.owner != nil || spec.allowedNetworks != nil else {
            throw AdminError.invalid("nothing to change: give at least one of path, methods, anonymous, audience, owner, allow_ips")
        }
        return APIResponse.json(200, Render.resource(try admin.updateResource(request.capture(0), spec)))
    }

    func deleteResource(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.deleteResource(request.capture(0))
        return APIResponse.noContent()
    }

    /// A resource spec from a create or update body; absent members stay nil (left as they are on update).
    static func resourceSpec(_ body: JSONBody, path: String?) throws -> ResourceSpec {
        var spec = ResourceSpec()
        if let path {
            let methods = try body.strings("methods", max: 16) ?? []
            guard let scope = PathScope(prefix: path, methods: methods) else {
                throw AdminError.invalid("path must be a normalised path prefix such as /api/reports/, methods upper-case names such as GET")
            }
            spec.path = scope
        }
        spec.anonymous = try body.bool("anonymous")
        spec.audience = try body.strings("audience")?.map(principal)
        if body.has("owner") { spec.owner = .some(try body.string("owner")) }
        spec.allowedNetworks = try body.strings("allow_ips")?.map(cidr)
        return spec
    }

    static func cidr(_ text: String) throws -> CIDR {
        guard let c = CIDR(text) else { throw AdminError.invalid("not a CIDR range or address: \(JSONText.string(String(text.prefix(64))))") }
        return c
    }

    // MARK: Keys

    func listKeys(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let query = try request.query(["limit", "cursor", "user"])
        let page = try Page(query, list: "keys", limits: config.limits)
        return page.answer(Page.sorted(try admin.keys(user: query["user"]), by: Render.keyOrder), key: Render.keyOrder, render: Render.key)
    }

    func createKey(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["user", "name", "expires", "scopes", "allow_ips"])
        guard let user = try body.string("user") ?? admin.actor.user else { throw AdminError.invalid("user is required") }
        let name = try body.requiredString("name")
        let expires = try Self.lifetime(try body.string("expires")) ?? .seconds(admin.limits.defaultKeyLifetime)
        let scopes = try (try body.strings("scopes") ?? []).map { text in
            guard let scope = PathScope(text) else { throw AdminError.invalid("not a path scope: \(JSONText.string(String(text.prefix(64))))") }
            return scope
        }
        let networks = try (try body.strings("allow_ips") ?? []).map(Self.cidr)
        let created = try admin.createKey(user: user, name: name, expires: expires, scopes: scopes, networks: networks)
        return APIResponse.json(201, Render.created(created, admin: admin))
    }

    func showKey(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        return APIResponse.json(200, Render.key(try admin.key(request.capture(0))))
    }

    func deleteKey(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.setKey(request.capture(0), .delete)
        return APIResponse.noContent()
    }

    func enableKey(_ request: APIRequest, _ admin: Admin) throws -> Response { try keyVerb(request, admin, .enable) }
    func disableKey(_ request: APIRequest, _ admin: Admin) throws -> Response { try keyVerb(request, admin, .disable) }

    private func keyVerb(_ request: APIRequest, _ admin: Admin, _ command: CredentialChange) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.setKey(request.capture(0), command)
        return APIResponse.json(200, Render.key(try admin.key(request.capture(0))))
    }

    func renewKey(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let expires = try Self.lifetime(try request.json(["expires"], allowEmpty: true).string("expires"))
        try admin.setKey(request.capture(0), .renew(expires))
        return APIResponse.json(200, Render.key(try admin.key(request.capture(0))))
    }

    func regenerateKey(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        return APIResponse.json(200, Render.created(try admin.regenerateKey(request.capture(0)), admin: admin))
    }

    static func lifetime(_ text: String?) throws -> Lifetime? {
        guard let text else { return nil }
        guard let lifetime = Lifetime(text) else { throw AdminError.invalid("expires is a duration such as 45s, 30m, 12h, 30d, or never") }
        return lifetime
    }

    // MARK: Services

    func listServices(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let query = try request.query(["limit", "cursor", "owner"])
        let page = try Page(query, list: "services", limits: config.limits)
        return page.answer(Page.sorted(try admin.services(owner: query["owner"]), by: \.name), key: \.name, render: Render.service)
    }

    /// `POST /services` `{"name", "owner", "scopes", "allow_ips"}`: the service with its first
    /// service key and JWT secret, both in this answer only.
    func createService(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["name", "owner", "scopes", "allow_ips"])
        guard let owner = try body.string("owner") ?? admin.actor.user else { throw AdminError.invalid("owner is required") }
        let scopes = try (try body.strings("scopes") ?? []).map { text in
            guard let scope = PathScope(text) else { throw AdminError.invalid("not a path scope: \(JSONText.string(String(text.prefix(64))))") }
            return scope
        }
        let networks = try (try body.strings("allow_ips") ?? []).map(Self.cidr)
        let created = try admin.createService(try body.requiredString("name"), owner: owner, scopes: scopes, networks: networks)
        return APIResponse.json(201, Render.created(created))
    }

    func showService(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        return APIResponse.json(200, Render.service(try admin.service(request.capture(0))))
    }

    /// `POST /services/{name}/delete` `{"password"}`: the caller's password again.
    func deleteService(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try admin.deleteService(request.capture(0), password: try Self.password(request))
        return APIResponse.noContent()
    }

    /// `POST /services/{name}/credentials` `{"type"}`: a second active one, its secret in this answer only.
    func addServiceCredential(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let text = try request.json(["type"]).requiredString("type")
        guard let type = ServiceCredentialType(rawValue: text) else { throw AdminError.invalid("type is service-key or jwt-secret") }
        return APIResponse.json(201, Render.secret(try admin.addServiceCredential(request.capture(0), type: type)))
    }

    func discardServiceCredential(_ request: APIRequest, _ admin: Admin) throws -> Response {
        try serviceCredentialVerb(request, admin, .discard)
    }

    func reactivateServiceCredential(_ request: APIRequest, _ admin: Admin) throws -> Response {
        try serviceCredentialVerb(request, admin, .reactivate)
    }

    private func serviceCredentialVerb(_ request: APIRequest, _ admin: Admin, _ command: ServiceCredentialChange) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.setServiceCredential(request.capture(0), try Self.serviceCredentialId(request.capture(1)), command)
        return APIResponse.json(200, Render.service(try admin.service(request.capture(0))))
    }

    /// `POST /services/{name}/credentials/{id}/delete` `{"password"}`: an inactive one only.
    func deleteServiceCredential(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let password = try Self.password(request)
        try admin.deleteServiceCredential(request.capture(0), try Self.serviceCredentialId(request.capture(1)), password: password)
        return APIResponse.json(200, Render.service(try admin.service(request.capture(0))))
    }

    /// `POST /services/{name}/credentials/{id}/reveal` `{"password"}`: the secret, audited.
    func revealServiceCredential(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let password = try Self.password(request)
        let shown = try admin.revealServiceCredential(request.capture(0), try Self.serviceCredentialId(request.capture(1)), password: password)
        return APIResponse.json(200, Render.secret(shown))
    }

    /// `{"password"}`, required: the caller proving themselves again.
    static func password(_ request: APIRequest) throws -> String {
        let password = try request.json(["password"]).requiredString("password")
        guard !password.isEmpty else { throw AdminError.invalid("password is required") }
        return password
    }

    /// A service credential's id in a path; anything else names none.
    static func serviceCredentialId(_ text: String) throws -> String {
        guard ServiceCredentialType(credentialId: text) != nil else {
            throw AdminError.notFound("no such service credential: \(JSONText.string(String(text.prefix(32))))")
        }
        return text
    }

    // MARK: Signed-request credentials (kwh_)

    /// `GET /hmac?user=`: as `GET /keys`, oldest first; each with its secrets' states, never their material.
    func listRequestKeys(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let query = try request.query(["limit", "cursor", "user"])
        let page = try Page(query, list: "hmac", limits: config.limits)
        let order: (RequestKeyRow) -> String = { Render.padded($0.createdAt) + " " + $0.id }
        return try page.answer(Page.sorted(try admin.requestKeys(user: query["user"]), by: order), key: order) {
            Render.requestKey($0, secrets: try admin.store.requestKeySecrets($0.id))
        }
    }

    /// `POST /hmac` `{"user", "name", "algorithm", "secret", "public_key", "expires", "scopes",
    /// "allow_ips"}`: the members of `POST /keys`, and what proves the credential. A secret
    /// Keyward generates is in this answer only; a supplied secret or public key is not shown back.
    func createRequestKey(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["user", "name", "algorithm", "secret", "public_key", "expires", "scopes", "allow_ips"])
        guard let user = try body.string("user") ?? admin.actor.user else { throw AdminError.invalid("user is required") }
        let name = try body.requiredString("name")
        let algorithm: RequestSigningAlgorithm
        if let text = try body.string("algorithm") {
            guard let named = RequestSigningAlgorithm(rawValue: text) else { throw AdminError.invalid("algorithm is hmac-sha256 or ed25519") }
            algorithm = named
        } else {
            algorithm = try body.string("public_key") != nil ? .ed25519 : .hmacSHA256
        }
        let material = try Self.requestKeyMaterial(body, algorithm: algorithm)
        let expires = try Self.lifetime(try body.string("expires")) ?? .seconds(admin.limits.defaultKeyLifetime)
        let scopes = try (try body.strings("scopes") ?? []).map { text in
            guard let scope = PathScope(text) else { throw AdminError.invalid("not a path scope: \(JSONText.string(String(text.prefix(64))))") }
            return scope
        }
        let networks = try (try body.strings("allow_ips") ?? []).map(Self.cidr)
        let created = try admin.createRequestKey(
            user: user, name: name, material: material, expires: expires, scopes: scopes, networks: networks)
        let row = try admin.requestKey(created.id)
        return APIResponse.json(201, Render.created(created, row: row, secrets: try admin.store.requestKeySecrets(created.id)))
    }

    func showRequestKey(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        return APIResponse.json(200, try Self.requestKeyJSON(request.capture(0), admin))
    }

    func deleteRequestKey(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.setRequestKey(request.capture(0), .delete)
        return APIResponse.noContent()
    }

    func enableRequestKey(_ request: APIRequest, _ admin: Admin) throws -> Response { try requestKeyVerb(request, admin, .enable) }
    func disableRequestKey(_ request: APIRequest, _ admin: Admin) throws -> Response { try requestKeyVerb(request, admin, .disable) }

    private func requestKeyVerb(_ request: APIRequest, _ admin: Admin, _ command: CredentialChange) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        try admin.setRequestKey(request.capture(0), command)
        return APIResponse.json(200, try Self.requestKeyJSON(request.capture(0), admin))
    }

    /// `POST /hmac/{id}/renew` `{"expires"}`: a new expiry; the secrets stay.
    func renewRequestKey(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let expires = try Self.lifetime(try request.json(["expires"], allowEmpty: true).string("expires"))
        try admin.setRequestKey(request.capture(0), .renew(expires))
        return APIResponse.json(200, try Self.requestKeyJSON(request.capture(0), admin))
    }

    /// `POST /hmac/{id}/secrets` `{"secret", "public_key", "grace"}`: a second active secret (of
    /// the credential's algorithm); with `grace` a roll, the active one retiring that long from
    /// now. A generated secret is in this answer only.
    func addRequestKeySecret(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["secret", "public_key", "grace"], allowEmpty: true)
        let grace = try body.string("grace").map { text -> Int64 in
            guard case .seconds(let seconds)? = Lifetime(text) else { throw AdminError.invalid("grace is a duration such as 30m, 24h or 7d") }
            return seconds
        }
        let id = request.capture(0)
        let material = try Self.requestKeyMaterial(body, algorithm: try admin.requestKey(id).algorithm)
        return APIResponse.json(201, Render.added(try admin.addRequestKeySecret(id, material: material, grace: grace)))
    }

    func discardRequestKeySecret(_ request: APIRequest, _ admin: Admin) throws -> Response {
        try requestKeySecretVerb(request, admin, .discard)
    }

    func reactivateRequestKeySecret(_ request: APIRequest, _ admin: Admin) throws -> Response {
        try requestKeySecretVerb(request, admin, .reactivate)
    }

    private func requestKeySecretVerb(_ request: APIRequest, _ admin: Admin, _ command: RequestKeySecretChange) throws -> Response {
        _ = try request.query([])
        try request.noBody()
        let serial = try Self.serial(request.capture(1))
        try Self.knownSecret { try admin.setRequestKeySecret(request.capture(0), serial: serial, command) }
        return APIResponse.json(200, try Self.requestKeyJSON(request.capture(0), admin))
    }

    /// `POST /hmac/{id}/secrets/{serial}/delete` `{"password"}`: an inactive secret only, with the
    /// caller's password again.
    func deleteRequestKeySecret(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let password = try Self.password(request)
        let serial = try Self.serial(request.capture(1))
        try Self.knownSecret { try admin.deleteRequestKeySecret(request.capture(0), serial: serial, password: password) }
        return APIResponse.json(200, try Self.requestKeyJSON(request.capture(0), admin))
    }

    /// `POST /hmac/{id}/secrets/{serial}/reveal` `{"password"}`: an HMAC secret again, with the
    /// caller's password; audited. Never cached (`APIResponse.json` answers no-store).
    func revealRequestKeySecret(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let password = try Self.password(request)
        let serial = try Self.serial(request.capture(1))
        let secret = try admin.revealRequestKeySecret(request.capture(0), serial: serial, password: password)
        return APIResponse.json(200, .object([("id", .string(request.capture(0))), ("serial", .int(serial)), ("secret", .string(secret))]))
    }

    /// What proves a new credential or secret of `algorithm`: `secret` (standard base64, the
    /// client's own) or a generated one for HMAC, `public_key` (PEM or base64) for Ed25519. The
    /// error messages never repeat what was sent.
    static func requestKeyMaterial(_ body: JSONBody, algorithm: RequestSigningAlgorithm) throws -> RequestKeyMaterial {
        let secret = try body.string("secret")
        let publicKey = try body.string("public_key")
        switch algorithm {
        case .hmacSHA256:
            guard publicKey == nil else { throw AdminError.invalid("public_key is for ed25519 credentials; hmac-sha256 takes secret") }
            guard let secret else { return .generatedSecret }
            guard let bytes = Base64.decode(secret) else { throw AdminError.invalid("secret must be standard base64") }
            return .suppliedSecret(bytes)
        case .ed25519:
            guard secret == nil else { throw AdminError.invalid("secret is for hmac-sha256 credentials; ed25519 takes public_key") }
            guard let publicKey else { throw AdminError.invalid("public_key is required for ed25519 (PEM, or the 32 bytes in base64)") }
            return try RequestKeyMaterial.ed25519(publicKeyText: publicKey)
        }
    }

    /// Credential `id` as the API shows it, with its secrets' states.
    static func requestKeyJSON(_ id: String, _ admin: Admin) throws -> JSON {
        Render.requestKey(try admin.requestKey(id), secrets: try admin.store.requestKeySecrets(id))
    }

    /// Runs `change`; a secret the credential does not have is a 404, as an unknown id in a path
    /// is, not a conflict of the rotation rules.
    static func knownSecret(_ change: () throws -> Void) throws {
        do {
            try change()
        } catch let refusal as RotationRefusal where refusal.rule == .unknown {
            throw AdminError.notFound(refusal.description)
        }
    }

    /// A secret's serial in a path: digits only; anything else names no secret.
    static func serial(_ text: String) throws -> Int64 {
        guard (1...18).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let serial = Int64(text), serial > 0
        else { throw AdminError.notFound("no such secret: \(JSONText.string(String(text.prefix(32))))") }
        return serial
    }

    // MARK: Access requests

    func requestAccess(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let body = try request.json(["user", "resource", "note"])
        guard let user = try body.string("user") ?? admin.actor.user else { throw AdminError.invalid("user is required") }
        let row = try admin.requestAccess(user: user, resource: try body.requiredString("resource"), note: try body.string("note"))
        return APIResponse.json(201, Render.decided(row, admin))
    }

    func listAccessRequests(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let query = try request.query(["limit", "cursor", "status"])
        let page = try Page(query, list: "access-requests", limits: config.limits)
        let rows = try admin.accessRequests(status: query["status"])
        return page.answer(Page.sorted(rows, by: { Render.padded($0.id) }), key: { Render.padded($0.id) }, render: Render.accessRequest)
    }

    func showAccessRequest(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        return APIResponse.json(200, Render.accessRequest(try admin.accessRequest(try Self.requestId(request.capture(0)))))
    }

    func approveAccess(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let expires = try Self.lifetime(try request.json(["expires"], allowEmpty: true).string("expires"))
        let row = try admin.approveAccess(try Self.requestId(request.capture(0)), expires: expires ?? .seconds(admin.limits.defaultKeyLifetime))
        return APIResponse.json(200, Render.decided(row, admin))
    }

    func rejectAccess(_ request: APIRequest, _ admin: Admin) throws -> Response {
        _ = try request.query([])
        let reason = try request.json(["reason"], allowEmpty: true).string("reason")
        let row = try admin.rejectAccess(try Self.requestId(request.capture(0)), reason: reason)
        return APIResponse.json(200, Render.decided(row, admin))
    }

    /// A request number in a path: digits only; anything else names no request.
    static func requestId(_ text: String) throws -> Int64 {
        guard (1...18).contains(text.utf8.count), text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let id = Int64(text), id > 0
        else { throw AdminError.notFound("no such access request: \(JSONText.string(String(text.prefix(32))))") }
        return id
    }

    /// `/admin/reveal/<token>`: the one-time link of an approved request, the link itself the
    /// capability (no sign-in, no CSRF token: nothing but the link's holder can use it).
    func revealLink(_ request: APIRequest, token: String) throws -> Response {
        let (store, _) = try opened()
        let admin = Admin(
            store: store, keyFile: config.keyFile, clock: clock, actor: .user("anonymous", privileges: [], credential: nil),
            sourceIP: request.address, limits: config.limits)
        let wantsJSON = request.accept.map { $0.lowercased().contains("application/json") } ?? false
        return admin.revealResponse(method: request.method, token: token, wantsJSON: wantsJSON)
    }

    // MARK: Audit and explain

    func listAudit(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let query = try request.query(["limit", "cursor", "since", "user", "action"])
        let page = try Page(query, list: "audit", limits: config.limits)
        let records = try auditRecords(query, page: page, admin: admin, limit: page.limit + 1)
        let shown = records.prefix(page.limit)
        let next: JSON = records.count > page.limit ? .string(page.cursor(String(shown.last!.id))) : .null
        return APIResponse.json(200, .object([("items", .array(shown.map(Render.audit))), ("next_cursor", next)]))
    }

    /// JSON lines (one record per line), up to `limit` (default and most 10,000) per request;
    /// `X-Next-Cursor` names the next batch when there is more. The same bytes are labelled
    /// `text/plain` for a client whose `Accept` prefers it (generated clients that know no
    /// `application/x-ndjson` read it as text).
    func exportAudit(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let query = try request.query(["limit", "cursor", "since", "user", "action"])
        let most = config.limits.maxAuditExportBatch
        var limit = most
        if let text = query["limit"] {
            guard text.utf8.count <= String(most).utf8.count, let n = Int(text), (1...most).contains(n) else {
                throw AdminError.invalid("limit must be an integer from 1 to \(most)")
            }
            limit = n
        }
        let page = try Page(limit: nil, cursor: query["cursor"], list: "audit", limits: config.limits)
        let records = try auditRecords(query, page: page, admin: admin, limit: limit + 1)
        let shown = records.prefix(limit)
        var body = ""
        for record in shown { body += Render.audit(record).text + "\n" }
        let type = request.negotiate(["application/x-ndjson", "text/plain"])
        var headers = [
            ("Content-Type", type == "text/plain" ? "text/plain; charset=utf-8" : type), ("Cache-Control", "no-store"), ("Vary", "Accept"),
        ]
        if records.count > limit { headers.append(("X-Next-Cursor", page.cursor(String(shown.last!.id)))) }
        return Response(status: 200, headers: headers, body: Array(body.utf8))
    }

    private func auditRecords(_ query: Query, page: Page, admin: Admin, limit: Int) throws -> [AuditRecord] {
        var after: Int64 = 0
        if let cursor = page.after {
            guard let id = Int64(cursor), id >= 0 else { throw AdminError.invalid("cursor is not one this list gave out") }
            after = id
        }
        let since = try query["since"].map { text in
            guard let t = Self.instant(text, now: clock.now) else {
                throw AdminError.invalid("since is Unix seconds, an ISO 8601 instant, or a duration ago such as 1h")
            }
            return t
        }
        return try admin.auditRecords(afterId: after, since: since, user: query["user"], action: query["action"], limit: limit)
    }

    /// Unix seconds, an ISO 8601 instant, or a duration ago (`1h`).
    static func instant(_ text: String, now: Int64) -> Int64? {
        if case .seconds(let s)? = Lifetime(text) { return now - s }
        if text.utf8.count <= 19, let t = Int64(text) { return t }
        guard text.utf8.count <= 40 else { return nil }
        return ISO8601DateFormatter().date(from: text).map { Int64($0.timeIntervalSince1970) }
    }

    func explain(_ request: APIRequest, _ admin: Admin) throws -> Response {
        let query = try request.query(["credential", "path", "method", "ip"])
        guard let path = query["path"] else { throw AdminError.invalid("path is required") }
        let method = query["method"] ?? "GET"
        guard (1...16).contains(method.utf8.count), method.utf8.allSatisfy({ ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A }) else {
            throw AdminError.invalid("method is an HTTP method name such as GET")
        }
        if let ip = query["ip"], IPAddress(ip) == nil { throw AdminError.invalid("ip is an IPv4 or IPv6 address") }
        let (decision, steps) = try admin.explain(credential: query["credential"], path: path, method: method, ip: query["ip"])
        return APIResponse.json(200, Render.explanation(decision, steps))
    }
}

extension Admin {
    /// Audit records after `afterId`, oldest first, for paging through the trail; admins only.
    public func auditRecords(afterId: Int64, since: Int64?, user: String?, action: String?, limit: Int) throws -> [AuditRecord] {
        try requireAdmin()
        return try store.auditRecords(afterId: afterId, since: since, user: user, action: action, limit: limit)
    }
}
