import KeywardCore

/// A refusal by the access model's rules: exit code 1 on the CLI, 4xx over HTTP.
public enum AccessRefusal: Error, CustomStringConvertible, Equatable {
    case noSuchGroup(String)
    case groupExists(String)
    case noSuchRole(String)
    case roleExists(String)
    case noSuchResource(String)
    case resourceExists(String)
    case unknownPrivilege(String)
    case alreadyMember(group: String, user: String)
    case notMember(group: String, user: String)
    case alreadyGranted(role: String, to: String)
    case notGranted(role: String, to: String)

    /// One line for the CLI and the admin API.
    public var description: String {
        switch self {
        case .noSuchGroup(let g): "no such group: \(g)"
        case .groupExists(let g): "group already exists: \(g)"
        case .noSuchRole(let r): "no such role: \(r)"
        case .roleExists(let r): "role already exists: \(r)"
        case .noSuchResource(let r): "no such resource: \(r)"
        case .resourceExists(let r): "a resource with this name or path already exists: \(r)"
        case .unknownPrivilege(let p):
            "unknown privilege \(p): one of \(Privilege.builtIn.joined(separator: ", ")) or access:RESOURCE"
        case .alreadyMember(let g, let u): "user \(u) is already in group \(g)"
        case .notMember(let g, let u): "user \(u) is not in group \(g)"
        case .alreadyGranted(let r, let to): "role \(r) is already granted to \(to)"
        case .notGranted(let r, let to): "role \(r) is not granted to \(to)"
        }
    }
}

/// A group as listed.
public struct GroupRow: Sendable, Equatable, Codable {
    public var name: String
    /// Unix seconds.
    public var createdAt: Int64
    /// Member user names, sorted.
    public var members: [String]
    /// Roles granted to the group, sorted.
    public var roles: [String]
}

/// A role as listed.
public struct RoleRow: Sendable, Equatable, Codable {
    public var name: String
    /// Unix seconds.
    public var createdAt: Int64
    /// Privileges it carries, sorted.
    public var privileges: [String]
    /// Whom it is granted to, as `group:G` / `user:U`, sorted.
    public var grantedTo: [String]
}

/// A resource as listed.
public struct ResourceRow: Sendable, Equatable, Codable {
    public var name: String
    /// The path prefix.
    public var path: String
    /// Allowed methods; empty for every method.
    public var methods: [String]
    /// Whether requests without a credential are allowed.
    public var anonymous: Bool
    /// `group:G` / `user:U`, sorted; entries that ended are left out.
    public var audience: [String]
    /// When the audience entries that end do so (Unix seconds), by entry: approved access requests.
    public var audienceUntil: [String: Int64]
    /// The owning user, who decides access requests.
    public var owner: String?
    /// CIDR ranges; empty for every address.
    public var allowIPs: [String]
    /// Unix seconds.
    public var createdAt: Int64
}

/// What `resource add` and `resource update` set; nil fields are left as they are on update.
public struct ResourceSpec: Sendable {
    public var path: PathScope?
    public var anonymous: Bool?
    public var audience: [Principal]?
    public var owner: String??
    public var allowedNetworks: [CIDR]?

    /// A spec from its parts; `path` carries the methods (`GET,POST:/prefix/`).
    public init(
        path: PathScope? = nil, anonymous: Bool? = nil, audience: [Principal]? = nil, owner: String?? = nil,
        allowedNetworks: [CIDR]? = nil
    ) {
        self.path = path
        self.anonymous = anonymous
        self.audience = audience
        self.owner = owner
        self.allowedNetworks = allowedNetworks
    }
}

extension Store {
    // MARK: Groups

    /// Adds an empty group; throws `groupExists`.
    public func addGroup(_ name: String, now: Int64) throws {
        do {
            try db.statement("INSERT INTO groups (name, created_at) VALUES (?, ?)").run([.text(name), .integer(now)])
        } catch let error as StoreError where error.isConstraint {
            throw AccessRefusal.groupExists(name)
        }
    }

    /// Every group with its members and roles, by name; only the one `named` when given.
    public func groups(named: String?) throws -> [GroupRow] {
        let name: [SQLValue] = [named.map(SQLValue.text) ?? .null]
        let members = try pairs(
            """
            SELECT g.name, u.name FROM group_members m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id
            WHERE ?1 IS NULL OR g.name = ?1
            """, name)
        let roles = try pairs(
            """
            SELECT g.name, r.name FROM role_grants rg JOIN groups g ON g.id = rg.group_id JOIN roles r ON r.id = rg.role_id
            WHERE ?1 IS NULL OR g.name = ?1
            """, name)
        return try db.statement("SELECT name, created_at FROM groups WHERE ?1 IS NULL OR name = ?1 ORDER BY name").map(name) { s in
            let name = s.text(0)
            return GroupRow(name: name, createdAt: s.int64(1), members: (members[name] ?? []).sorted(), roles: (roles[name] ?? []).sorted())
        }
    }

    /// One group; throws `noSuchGroup`.
    public func group(_ name: String) throws -> GroupRow {
        guard let row = try groups(named: name).first else { throw AccessRefusal.noSuchGroup(name) }
        return row
    }

    /// Deletes a group, its memberships, grants and audience entries; throws `noSuchGroup`.
    public func deleteGroup(_ name: String) throws {
        try db.statement("DELETE FROM groups WHERE name = ?").run([.text(name)])
        if db.changes == 0 { throw AccessRefusal.noSuchGroup(name) }
    }

    /// Puts `user` into `group`; throws `noSuchGroup`, `noSuchUser` or `alreadyMember`.
    public func addMember(group: String, user: String) throws {
        let (groupId, userId) = (try groupId(group), try userId(user))
        do {
            try db.statement("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)").run([.integer(groupId), .integer(userId)])
        } catch let error as StoreError where error.isConstraint {
            throw AccessRefusal.alreadyMember(group: group, user: user)
        }
    }

    /// Takes `user` out of `group`; throws `notMember` when they were not in it.
    public func removeMember(group: String, user: String) throws {
        let (groupId, userId) = (try groupId(group), try userId(user))
        try db.statement("DELETE FROM group_members WHERE group_id = ? AND user_id = ?").run([.integer(groupId), .integer(userId)])
        if db.changes == 0 { throw AccessRefusal.notMember(group: group, user: user) }
    }

    // MARK: Roles

    /// Adds a role carrying `privileges` (each built in, or `access:` an existing resource).
    public func addRole(_ name: String, privileges: [String], now: Int64) throws {
        for privilege in privileges { try checkPrivilege(privilege) }
        do {
            try db.statement("INSERT INTO roles (name, created_at) VALUES (?, ?)").run([.text(name), .integer(now)])
        } catch let error as StoreError where error.isConstraint {
            throw AccessRefusal.roleExists(name)
        }
        let roleId = db.lastInsertRowId
        let insert = try db.statement(dialect.insertIgnoring("role_privileges", "role_id, privilege", "?, ?"))
        for privilege in privileges { try insert.run([.integer(roleId), .text(privilege)]) }
    }

    /// Every role with its privileges and grants, by name; only the one `named` when given.
    public func roles(named: String?) throws -> [RoleRow] {
        let name: [SQLValue] = [named.map(SQLValue.text) ?? .null]
        let privileges = try pairs(
            """
            SELECT r.name, p.privilege FROM role_privileges p JOIN roles r ON r.id = p.role_id WHERE ?1 IS NULL OR r.name = ?1
            """, name)
        let grants = try pairs(
            """
            SELECT r.name, CASE WHEN rg.group_id IS NOT NULL THEN 'group:' || g.name ELSE 'user:' || u.name END
            FROM role_grants rg JOIN roles r ON r.id = rg.role_id
            LEFT JOIN groups g ON g.id = rg.group_id LEFT JOIN users u ON u.id = rg.user_id
            WHERE ?1 IS NULL OR r.name = ?1
            """, name)
        return try db.statement("SELECT name, created_at FROM roles WHERE ?1 IS NULL OR name = ?1 ORDER BY name").map(name) { s in
            let name = s.text(0)
            return RoleRow(
                name: name, createdAt: s.int64(1), privileges: (privileges[name] ?? []).sorted(),
                grantedTo: (grants[name] ?? []).sorted())
        }
    }

    /// One role; throws `noSuchRole`.
    public func role(_ name: String) throws -> RoleRow {
        guard let row = try roles(named: name).first else { throw AccessRefusal.noSuchRole(name) }
        return row
    }

    /// Deletes a role and its grants; throws `noSuchRole`.
    public func deleteRole(_ name: String) throws {
        try db.statement("DELETE FROM roles WHERE name = ?").run([.text(name)])
        if db.changes == 0 { throw AccessRefusal.noSuchRole(name) }
    }

    /// Grants `role` to a group or user; throws `alreadyGranted` when it already is.
    public func grantRole(_ role: String, to principal: Principal) throws {
        let roleId = try roleId(role)
        let (column, id) = try principalColumn(principal)
        do {
            try db.statement("INSERT INTO role_grants (role_id, \(column)) VALUES (?, ?)").run([.integer(roleId), .integer(id)])
        } catch let error as StoreError where error.isConstraint {
            throw AccessRefusal.alreadyGranted(role: role, to: principal.description)
        }
    }

    /// Revokes `role` from a group or user; throws `notGranted` when it was not granted.
    public func revokeRole(_ role: String, from principal: Principal) throws {
        let roleId = try roleId(role)
        let (column, id) = try principalColumn(principal)
        try db.statement("DELETE FROM role_grants WHERE role_id = ? AND \(column) = ?").run([.integer(roleId), .integer(id)])
        if db.changes == 0 { throw AccessRefusal.notGranted(role: role, to: principal.description) }
    }

    /// The privileges `user` holds now, through roles granted to them or their groups.
    public func privileges(of user: String) throws -> Set<String> {
        _ = try userId(user)
        return Set(
            try db.statement(
                """
                SELECT p.privilege FROM role_privileges p JOIN role_grants rg ON rg.role_id = p.role_id
                JOIN users u ON u.name = ?1
                WHERE rg.user_id = u.id OR rg.group_id IN (SELECT group_id FROM group_members WHERE user_id = u.id)
                """
            ).map([.text(user)]) { $0.text(0) })
    }

    // MARK: Resources

    /// Adds a resource; throws `resourceExists` for a taken name or path, `noSuchUser`/`noSuchGroup`
    /// for an unknown owner or audience member.
    public func addResource(_ name: String, _ spec: ResourceSpec, now: Int64) throws {
        guard let scope = spec.path.map(Self.canonical) else { throw AccessRefusal.noSuchResource(name) }
        let ownerId = try (spec.owner ?? nil).map { try userId($0) }
        do {
            try db.statement(
                """
                INSERT INTO resources (name, path, methods, anonymous, owner_id, allow_ips, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """
            ).run([
                .text(name), .text(scope.prefix), .text(scope.methods.joined(separator: ",")),
                .integer(spec.anonymous == true ? 1 : 0), ownerId.map(SQLValue.integer) ?? .null,
                .text((spec.allowedNetworks ?? []).map(\.description).joined(separator: "\n")), .integer(now),
            ])
        } catch let error as StoreError where error.isConstraint {
            throw AccessRefusal.resourceExists(name)
        }
        try setAudience(resourceId: db.lastInsertRowId, spec.audience ?? [])
    }

    /// Changes the fields `spec` sets; throws `noSuchResource`.
    public func updateResource(_ name: String, _ spec: ResourceSpec) throws {
        let id = try resourceId(name)
        func set(_ column: StaticString, _ value: SQLValue) throws {
            do {
                try db.statement("UPDATE resources SET \(column) = ? WHERE id = ?").run([value, .integer(id)])
            } catch let error as StoreError where error.isConstraint {
                throw AccessRefusal.resourceExists(name)
            }
        }
        if let scope = spec.path.map(Self.canonical) {
            try set("path", .text(scope.prefix))
            try set("methods", .text(scope.methods.joined(separator: ",")))
        }
        if let anonymous = spec.anonymous { try set("anonymous", .integer(anonymous ? 1 : 0)) }
        if let owner = spec.owner { try set("owner_id", try owner.map { .integer(try userId($0)) } ?? .null) }
        if let networks = spec.allowedNetworks { try set("allow_ips", .text(networks.map(\.description).joined(separator: "\n"))) }
        if let audience = spec.audience {
            try db.statement("DELETE FROM resource_audience WHERE resource_id = ?").run([.integer(id)])
            try setAudience(resourceId: id, audience)
        }
    }

    /// Adds one principal to a resource's audience until `until` (Unix seconds; nil: for good), as an
    /// approved access request does. An entry already there keeps the later end (a permanent one stays).
    public func addAudience(resource: String, _ principal: Principal, until: Int64?) throws {
        let resourceId = try resourceId(resource)
        let (column, id) = try principalColumn(principal)
        try db.statement(
            """
            INSERT INTO resource_audience (resource_id, \(column), expires_at) VALUES (?1, ?2, ?3)
            ON CONFLICT (resource_id, \(column)) WHERE \(column) IS NOT NULL DO UPDATE SET expires_at =
                CASE WHEN expires_at IS NULL OR excluded.expires_at IS NULL THEN NULL ELSE \(dialect.greatest("expires_at", "excluded.expires_at")) END
            """
        ).run([.integer(resourceId), .integer(id), until.map(SQLValue.integer) ?? .null])
    }

    /// `/api` and `/api/` cover the same paths; resources are stored with the trailing `/`, so the
    /// uniqueness of paths means one resource per set of paths.
    static func canonical(_ scope: PathScope) -> PathScope {
        guard !scope.prefix.hasSuffix("/") else { return scope }
        return PathScope(prefix: scope.prefix + "/", methods: scope.methods) ?? scope
    }

    /// Every resource, by name, with the audience entries that have not ended by `now`; only the
    /// one `named` when given.
    public func resources(now: Int64, named: String?) throws -> [ResourceRow] {
        let name: SQLValue = named.map(SQLValue.text) ?? .null
        var audience: [String: [String]] = [:]
        var until: [String: [String: Int64]] = [:]
        try db.statement(
            """
            SELECT r.name, CASE WHEN a.group_id IS NOT NULL THEN 'group:' || g.name ELSE 'user:' || u.name END, a.expires_at
            FROM resource_audience a JOIN resources r ON r.id = a.resource_id
            LEFT JOIN groups g ON g.id = a.group_id LEFT JOIN users u ON u.id = a.user_id
            WHERE (a.expires_at IS NULL OR a.expires_at > ?1) AND (?2 IS NULL OR r.name = ?2)
            """
        ).forEach([.integer(now), name]) { s in
            audience[s.text(0), default: []].append(s.text(1))
            if let end = s.optionalInt64(2) { until[s.text(0), default: [:]][s.text(1)] = end }
        }
        return try db.statement(
            """
            SELECT r.name, r.path, r.methods, r.anonymous, u.name, r.allow_ips, r.created_at
            FROM resources r LEFT JOIN users u ON u.id = r.owner_id WHERE ?1 IS NULL OR r.name = ?1 ORDER BY r.name
            """
        ).map([name]) { s in
            let name = s.text(0)
            return ResourceRow(
                name: name, path: s.text(1), methods: s.text(2).split(separator: ",").map(String.init),
                anonymous: s.int64(3) != 0, audience: (audience[name] ?? []).sorted(),
                audienceUntil: until[name] ?? [:], owner: s.optionalText(4),
                allowIPs: Self.lines(s.text(5)), createdAt: s.int64(6))
        }
    }

    /// One resource; throws `noSuchResource`.
    public func resource(_ name: String, now: Int64) throws -> ResourceRow {
        guard let row = try resources(now: now, named: name).first else { throw AccessRefusal.noSuchResource(name) }
        return row
    }

    /// Deletes a resource, its audience and pending requests; throws `noSuchResource`.
    public func deleteResource(_ name: String) throws {
        try db.statement("DELETE FROM resources WHERE name = ?").run([.text(name)])
        if db.changes == 0 { throw AccessRefusal.noSuchResource(name) }
        try db.statement("DELETE FROM role_privileges WHERE privilege = ?").run([.text(Privilege.access(name))])
    }

    // MARK: The model the check uses

    /// Groups, roles and resources as one snapshot. Stored rules that no longer parse refuse the
    /// load (the check answers 500) rather than silently widening a resource.
    public static func accessModel(_ db: Connection, now: Int64) throws -> AccessModel {
        var store: [String: [Principal]] = [:]
        var validUntil: Int64? = nil
        try db.statement(
            """
            SELECT r.name, g.name, u.name, a.expires_at FROM resource_audience a JOIN resources r ON r.id = a.resource_id
            LEFT JOIN groups g ON g.id = a.group_id LEFT JOIN users u ON u.id = a.user_id
            WHERE a.expires_at IS NULL OR a.expires_at > ?
            """
        ).forEach([.integer(now)]) { s in
            store[s.text(0), default: []].append(s.isNull(1) ? .user(s.text(2)) : .group(s.text(1)))
            if let end = s.optionalInt64(3) { validUntil = min(validUntil ?? end, end) }
        }
        let resources = try db.statement(
            """
            SELECT r.name, r.path, r.methods, r.anonymous, u.name, r.allow_ips FROM resources r LEFT JOIN users u ON u.id = r.owner_id
            """
        ).map { s -> Resource in
            let name = s.text(0), methods = s.text(2)
            let networkLines = lines(s.text(5))
            let networks = networkLines.compactMap(CIDR.init)
            guard let scope = PathScope(prefix: s.text(1), methods: methods.split(separator: ",").map(String.init)),
                networks.count == networkLines.count
            else {
                throw StoreError(code: 1, message: "resource \(name) has a stored path or network that does not parse")
            }
            return Resource(
                name: name, scope: scope, anonymous: s.int64(3) != 0, audience: store[name] ?? [],
                owner: s.optionalText(4), allowedNetworks: networks)
        }
        let memberships = try db.statement(
            """
            SELECT u.name, g.name FROM group_members m JOIN users u ON u.id = m.user_id JOIN groups g ON g.id = m.group_id
            """
        ).map { (user: $0.text(0), group: $0.text(1)) }
        let grants = try db.statement(
            """
            SELECT r.name, g.name, u.name FROM role_grants rg JOIN roles r ON r.id = rg.role_id
            LEFT JOIN groups g ON g.id = rg.group_id LEFT JOIN users u ON u.id = rg.user_id
            """
        ).map { (role: $0.text(0), to: $0.isNull(1) ? Principal.user($0.text(2)) : Principal.group($0.text(1))) }
        let privileges = try db.statement("SELECT r.name, p.privilege FROM role_privileges p JOIN roles r ON r.id = p.role_id")
            .map { (role: $0.text(0), privilege: $0.text(1)) }
        return AccessModel(
            resources: resources, memberships: memberships, grants: grants, rolePrivileges: privileges,
            validUntil: validUntil)
    }

    /// The access model over this store's connection, as of `now`.
    public func accessModel(now: Int64) throws -> AccessModel { try Self.accessModel(db, now: now) }

    // MARK: Helpers

    private func pairs(_ sql: String, _ values: [SQLValue]) throws -> [String: [String]] {
        var out: [String: [String]] = [:]
        try db.statement(sql).forEach(values) { out[$0.text(0), default: []].append($0.text(1)) }
        return out
    }

    private func setAudience(resourceId: Int64, _ audience: [Principal]) throws {
        for principal in audience {
            let (column, id) = try principalColumn(principal)
            try db.statement(dialect.insertIgnoring("resource_audience", "resource_id, \(column)", "?, ?"))
                .run([.integer(resourceId), .integer(id)])
        }
    }

    private func checkPrivilege(_ privilege: String) throws {
        if Privilege.builtIn.contains(privilege) { return }
        guard let resource = Privilege.resource(of: privilege) else { throw AccessRefusal.unknownPrivilege(privilege) }
        _ = try resourceId(resource)
    }

    private func principalColumn(_ principal: Principal) throws -> (StaticString, Int64) {
        switch principal {
        case .group(let g): ("group_id", try groupId(g))
        case .user(let u): ("user_id", try userId(u))
        }
    }

    func groupId(_ name: String) throws -> Int64 {
        guard let id = try db.statement("SELECT id FROM groups WHERE name = ?").first([.text(name)], { $0.int64(0) })
        else { throw AccessRefusal.noSuchGroup(name) }
        return id
    }

    func roleId(_ name: String) throws -> Int64 {
        guard let id = try db.statement("SELECT id FROM roles WHERE name = ?").first([.text(name)], { $0.int64(0) })
        else { throw AccessRefusal.noSuchRole(name) }
        return id
    }

    func resourceId(_ name: String) throws -> Int64 {
        guard let id = try db.statement("SELECT id FROM resources WHERE name = ?").first([.text(name)], { $0.int64(0) })
        else { throw AccessRefusal.noSuchResource(name) }
        return id
    }
}
