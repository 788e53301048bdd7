import KeywardCore
import KeywardCrypto
import KeywardStore

// MARK: Users

extension Admin {
    /// Adds a user, with an e-mail address for notifications when given. The name `anonymous` is
    /// reserved: it is the user of requests allowed without a credential.
    public func addUser(_ name: String, email: String? = nil) throws -> UserRow {
        try requireAdmin()
        try requireValidName(name, "user")
        guard name != Identity.anonymousUser else {
            throw AdminError.invalid("the user name \(Identity.anonymousUser) is reserved for requests without a credential")
        }
        if let email { try Self.checkEmail(email) }
        return try change("user.add", target: "user:\(name)") {
            try store.addUser(name, now: clock.now)
            if let email { try store.setUserEmail(name, email) }
            return try store.user(name)
        }
    }

    /// Users, by name; admins see everyone, others themselves.
    public func users() throws -> [UserRow] {
        if actor.isAdmin { return try store.users() }
        return try store.users().filter { $0.name == actor.user }
    }

    /// One user; admins or the user.
    public func user(_ name: String) throws -> UserRow {
        guard actor.isAdmin || actor.user == name else { throw AdminError.forbidden() }
        return try store.user(name)
    }

    /// Enables, disables or deletes a user. Admins only.
    public func setUser(_ name: String, _ command: UserChange) throws {
        try requireAdmin()
        try change("user.\(command.rawValue)", target: "user:\(name)") {
            switch command {
            case .enable: try store.setUserStatus(name, .active)
            case .disable:
                try store.setUserStatus(name, .disabled)
                try store.deleteSessions(user: name, except: nil)
            case .delete: try store.deleteUser(name)
            }
        }
    }

    /// Sets or clears a user's e-mail address.
    public func setEmail(_ name: String, _ email: String?) throws {
        try requireSelf(name, or: Privilege.manageOwnKeys)
        if let email { try Self.checkEmail(email) }
        try change("user.email", target: "user:\(name)") { try store.setUserEmail(name, email) }
    }

    /// Sets a user's password (8 to 1024 bytes), stored as a salted scrypt hash, and ends the user's
    /// sessions but `keeping` (the caller's own, when they change their own password). Admins may
    /// set anyone's; a user only their own, proving the current one (`current`).
    public func setPassword(_ name: String, _ password: String, current: String? = nil, keeping: [UInt8]? = nil) throws {
        if !actor.isAdmin {
            guard actor.user == name else { throw AdminError.forbidden() }
            guard let current, let stored = try store.userPassword(name), let hash = try? PasswordHash(encoded: stored),
                hash.verify(current)
            else { throw AdminError.forbidden("Changing your password needs your current password.") }
        }
        try Self.checkPassword(password)
        let hash = PasswordHash(password: password)
        try change("user.passwd", target: "user:\(name)") {
            try store.setUserPassword(name, hash: hash.encoded)
            try store.deleteSessions(user: name, except: keeping)
        }
    }

    /// Throws `invalid_argument` unless `password` has 8 to 1024 bytes.
    public static func checkPassword(_ password: String) throws {
        guard (8...1024).contains(password.utf8.count) else { throw AdminError.invalid("a password of 8 to 1024 bytes is required") }
    }

    /// An address one `sendmail -t` can take safely: one `local@domain`, printable, no spaces or header breaks.
    static func checkEmail(_ email: String) throws {
        let bytes = Array(email.utf8)
        guard (3...254).contains(bytes.count), bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ",") }),
            bytes.filter({ $0 == UInt8(ascii: "@") }).count == 1, bytes.first != UInt8(ascii: "@"),
            bytes.last != UInt8(ascii: "@"), bytes.first != UInt8(ascii: "-")
        else { throw AdminError.invalid("invalid e-mail address") }
    }
}

// MARK: Groups, roles, resources

extension Admin {
    public func addGroup(_ name: String) throws -> GroupRow {
        try requireAdmin()
        try requireValidName(name, "group")
        return try change("group.add", target: "group:\(name)") {
            try store.addGroup(name, now: clock.now)
            return try store.group(name)
        }
    }

    public func groups() throws -> [GroupRow] {
        try requireAdmin()
        return try store.groups()
    }

    public func group(_ name: String) throws -> GroupRow {
        try requireAdmin()
        return try store.group(name)
    }

    public func deleteGroup(_ name: String) throws {
        try requireAdmin()
        try change("group.delete", target: "group:\(name)") { try store.deleteGroup(name) }
    }

    /// Adds (`add: true`) or removes a member; takes effect on the next request.
    public func setMember(group: String, user: String, add: Bool) throws {
        try requireAdmin()
        try change(add ? "group.member.add" : "group.member.remove", target: "group:\(group)", detail: "user:\(user)") {
            if add { try store.addMember(group: group, user: user) } else { try store.removeMember(group: group, user: user) }
        }
    }

    public func addRole(_ name: String, privileges: [String]) throws -> RoleRow {
        try requireAdmin()
        try requireValidName(name, "role")
        guard !privileges.isEmpty else { throw AdminError.invalid("a role needs at least one privilege") }
        return try change("role.add", target: "role:\(name)", detail: privileges.sorted().joined(separator: " ")) {
            try store.addRole(name, privileges: privileges, now: clock.now)
            return try store.role(name)
        }
    }

    public func roles() throws -> [RoleRow] {
        try requireAdmin()
        return try store.roles()
    }

    public func role(_ name: String) throws -> RoleRow {
        try requireAdmin()
        return try store.role(name)
    }

    public func deleteRole(_ name: String) throws {
        try requireAdmin()
        try change("role.delete", target: "role:\(name)") { try store.deleteRole(name) }
    }

    /// Grants (`grant: true`) or revokes a role for a group or user; takes effect on the next request.
    public func setGrant(role: String, _ principal: Principal, grant: Bool) throws {
        try requireAdmin()
        try change(grant ? "role.grant" : "role.revoke", target: "role:\(role)", detail: principal.description) {
            if grant { try store.grantRole(role, to: principal) } else { try store.revokeRole(role, from: principal) }
        }
    }

    public func addResource(_ name: String, _ spec: ResourceSpec) throws -> ResourceRow {
        try requireAdmin()
        try requireValidName(name, "resource")
        guard spec.path != nil else { throw AdminError.invalid("a resource needs a path") }
        return try change("resource.add", target: "resource:\(name)") {
            try store.addResource(name, spec, now: clock.now)
            return try store.resource(name, now: clock.now)
        }
    }

    /// Resources, by name: everyone may see which APIs exist (to request access to them); who may
    /// call them and from where only admins and each resource's owner.
    public func resources() throws -> [ResourceRow] { try store.resources(now: clock.now).map(shown) }

    public func resource(_ name: String) throws -> ResourceRow { shown(try store.resource(name, now: clock.now)) }

    private func shown(_ row: ResourceRow) -> ResourceRow {
        guard !actor.isAdmin, row.owner == nil || row.owner != actor.user else { return row }
        var row = row
        row.audience = []
        row.audienceUntil = [:]
        row.allowIPs = []
        return row
    }

    /// Changes a resource: admins anything, its owner the audience only (who may call it), never
    /// its path, methods, anonymity, networks or owner, which decide what the resource covers.
    public func updateResource(_ name: String, _ spec: ResourceSpec) throws -> ResourceRow {
        let row = try store.resource(name)
        if !actor.isAdmin {
            guard actor.user != nil, row.owner == actor.user else { throw AdminError.forbidden() }
            guard spec.path == nil, spec.anonymous == nil, spec.owner == nil, spec.allowedNetworks == nil else {
                throw AdminError.forbidden("As its owner you may change the resource's audience; the rest needs the admin privilege.")
            }
        }
        return try change("resource.update", target: "resource:\(name)") {
            try store.updateResource(name, spec)
            return try store.resource(name, now: clock.now)
        }
    }

    public func deleteResource(_ name: String) throws {
        try requireAdmin()
        try change("resource.delete", target: "resource:\(name)") { try store.deleteResource(name) }
    }
}

// MARK: Audit and explain

extension Admin {
    /// Audit events, oldest first; admins only.
    public func audit(since: Int64? = nil, user: String? = nil, action: String? = nil, limit: Int = 1000) throws -> [AuditEvent] {
        try requireAdmin()
        return try store.audit(since: since, user: user, action: action, limit: limit)
    }

    /// Why a request would be allowed or denied for a credential (by public id), or for none:
    /// admins for any credential, users for their own.
    public func explain(credential: String?, path: String, method: String, ip: String?) throws -> (decision: Decision, steps: [String]) {
        if let credential {
            guard SecretKind(credentialId: credential) != nil else {
                throw AdminError.invalid("not a credential id (\(SecretKind.idShape))")
            }
        }
        let lookup = try store.credentialLookup(clock: clock, limits: limits)
        if !actor.isAdmin {
            guard let credential, let record = try lookup.credential(id: credential), record.userName == actor.user
            else { throw AdminError.forbidden("You may explain decisions for your own credentials only.") }
        }
        let sink = CollectingSink()
        let authenticator = Authenticator(
            keys: lookup, pepper: HMACKey(keyFile.pepper), clock: clock, usage: sink, audit: sink,
            throttle: FailureThrottle(limit: 0, windowSeconds: 1), limits: limits)
        let request = CheckRequest(
            method: method.uppercased(), path: PathNormalizer.normalize(requestURI: path, limits: limits),
            remoteAddress: ip)
        return try authenticator.explain(credentialId: credential, request: request)
    }
}
