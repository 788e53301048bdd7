/// A user or a group, as named in a resource's audience or a role grant: `user:alice`, `group:ops`.
public enum Principal: Hashable, Sendable, Comparable, CustomStringConvertible {
    case user(String)
    case group(String)

    /// Parses `user:NAME` or `group:NAME`; nil for anything else.
    public init?(_ text: String) {
        if text.hasPrefix("user:"), text.utf8.count > 5 {
            self = .user(String(text.dropFirst(5)))
        } else if text.hasPrefix("group:"), text.utf8.count > 6 {
            self = .group(String(text.dropFirst(6)))
        } else {
            return nil
        }
    }

    /// `user:NAME` or `group:NAME`.
    public var description: String {
        switch self {
        case .user(let name): "user:\(name)"
        case .group(let name): "group:\(name)"
        }
    }
}

/// The privileges roles carry. Built in: `admin`, `manage-own-keys`, `use-api-key`; and access to
/// a resource as `access:<resource>`.
public enum Privilege {
    /// Every admin operation, on every user's objects.
    public static let admin = "admin"
    /// Create, list, renew, regenerate, disable and delete one's own keys through the admin API.
    public static let manageOwnKeys = "manage-own-keys"
    /// Authenticate to the admin API with one's own API key (sessions need a password instead).
    public static let useAPIKey = "use-api-key"
    /// The built-in privileges, in the order `--help` lists them.
    public static let builtIn = [admin, manageOwnKeys, useAPIKey]

    /// The privilege that admits its holders to `resource`.
    public static func access(_ resource: String) -> String { "access:" + resource }

    /// The resource an `access:` privilege names, or nil for a built-in one.
    public static func resource(of privilege: String) -> String? {
        privilege.hasPrefix("access:") && privilege.utf8.count > 7 ? String(privilege.dropFirst(7)) : nil
    }
}

/// A protected API: a path prefix with its own rules, consulted on every check under it.
///
/// Immutable, and a class, so a check holding the matched resource holds one reference.
public final class Resource: Sendable, Equatable {
    /// Unique name, used by `access:<name>` privileges and access requests.
    public let name: String
    /// The path prefix and the methods allowed under it (none named: every method).
    public let scope: PathScope
    /// True when requests without a credential are allowed (`X-Auth-Method: anonymous`).
    public let anonymous: Bool
    /// Who may call it besides its owner and holders of `access:<name>`.
    public let audience: [Principal]
    /// The user who decides access requests for it; nil when only admins do.
    public let owner: String?
    /// Client networks allowed to call it, with or without a credential; empty means every address.
    public let allowedNetworks: [CIDR]

    /// A resource from its parts.
    public init(
        name: String, scope: PathScope, anonymous: Bool = false, audience: [Principal] = [], owner: String? = nil,
        allowedNetworks: [CIDR] = []
    ) {
        self.name = name
        self.scope = scope
        self.anonymous = anonymous
        self.audience = audience
        self.owner = owner
        self.allowedNetworks = allowedNetworks
    }

    /// Equal when every field is.
    public static func == (a: Resource, b: Resource) -> Bool {
        a.name == b.name && a.scope == b.scope && a.anonymous == b.anonymous && a.audience == b.audience
            && a.owner == b.owner && a.allowedNetworks == b.allowedNetworks
    }
}

/// Groups, roles and resources as one immutable snapshot, loaded per store generation, so the check
/// answers "which resource, and may this user call it" from memory on every request: one hash
/// lookup by the path's first segment to find the resource, one set lookup for the grant. A class,
/// so handing the snapshot to each check costs one reference count, not one per table.
public final class AccessModel: Sendable {
    /// Every resource, most specific (longest prefix) first.
    public let resources: [Resource]
    /// Indexes into `resources` by a hash of the first segment of their prefix, each list most
    /// specific first (a collision only adds candidates: each is still tested with `covers`).
    private let bySegment: [UInt64: [Int]]
    /// Indexes of resources whose prefix is `/`: they cover every path, least specific of all.
    private let everywhere: [Int]
    /// Per resource (same index), every user it admits by any route: owner, audience (directly or
    /// through a group) or an `access:` privilege.
    private let admitted: [Set<String>]
    private let groupsByUser: [String: Set<String>]
    /// Per user, each privilege held and the first grant that gives it (for `explain`).
    private let privilegesByUser: [String: [String: String]]
    /// When the first audience entry in it ends (Unix seconds): the model is stale from then on.
    public let validUntil: Int64?

    /// The empty model: no resources, groups or roles; the check then applies key scopes alone.
    public convenience init() {
        self.init(resources: [], memberships: [], grants: [], rolePrivileges: [])
    }

    /// A snapshot from stored rows: `memberships` are (user, group), `grants` (role, grantee) and
    /// `rolePrivileges` (role, privilege).
    public init(
        resources: [Resource], memberships: [(user: String, group: String)],
        grants: [(role: String, to: Principal)], rolePrivileges: [(role: String, privilege: String)],
        validUntil: Int64? = nil
    ) {
        self.validUntil = validUntil
        let sorted = resources.sorted { a, b in
            a.scope.prefix.utf8.count != b.scope.prefix.utf8.count
                ? a.scope.prefix.utf8.count > b.scope.prefix.utf8.count
                : a.name < b.name
        }
        var groups: [String: Set<String>] = [:]
        var members: [String: [String]] = [:]
        for m in memberships {
            groups[m.user, default: []].insert(m.group)
            members[m.group, default: []].append(m.user)
        }
        var privilegesOfRole: [String: [String]] = [:]
        for rp in rolePrivileges { privilegesOfRole[rp.role, default: []].append(rp.privilege) }
        var privileges: [String: [String: String]] = [:]
        // Direct grants first, so `explain` names the most direct route to a privilege.
        for grant in grants.sorted(by: { $0.to < $1.to }) {
            let holders: [(String, String)]
            switch grant.to {
            case .user(let user): holders = [(user, "role \(grant.role) granted to user:\(user)")]
            case .group(let group): holders = (members[group] ?? []).map { ($0, "role \(grant.role) granted to group:\(group)") }
            }
            for (user, how) in holders {
                for privilege in privilegesOfRole[grant.role] ?? [] where privileges[user]?[privilege] == nil {
                    privileges[user, default: [:]][privilege] = how
                }
            }
        }
        var holdersOfAccess: [String: Set<String>] = [:]
        for (user, held) in privileges {
            for privilege in held.keys { if let resource = Privilege.resource(of: privilege) { holdersOfAccess[resource, default: []].insert(user) } }
        }
        var bySegment: [UInt64: [Int]] = [:]
        var everywhere: [Int] = []
        var admitted: [Set<String>] = []
        for (index, resource) in sorted.enumerated() {
            if let segment = Self.firstSegment(resource.scope.prefix), !segment.isEmpty {
                bySegment[Self.hash(segment), default: []].append(index)
            } else {
                everywhere.append(index)
            }
            var users = holdersOfAccess[resource.name] ?? []
            if let owner = resource.owner { users.insert(owner) }
            for principal in resource.audience {
                switch principal {
                case .user(let user): users.insert(user)
                case .group(let group): users.formUnion(members[group] ?? [])
                }
            }
            admitted.append(users)
        }
        self.resources = sorted
        self.bySegment = bySegment
        self.everywhere = everywhere
        self.admitted = admitted
        groupsByUser = groups
        privilegesByUser = privileges
    }

    /// `api` for `/api/v1/x`, `/api` or `/api/`; empty for `/`; nil for a path not starting with `/`.
    private static func firstSegment(_ path: String) -> Substring? {
        let utf8 = path.utf8
        guard utf8.first == UInt8(ascii: "/") else { return nil }
        let start = utf8.index(after: utf8.startIndex)
        let end = utf8[start...].firstIndex(of: UInt8(ascii: "/")) ?? utf8.endIndex
        return path[start..<end]
    }

    /// FNV-1a over the segment's bytes: cheaper than `Substring`'s Unicode-aware hashing, and a
    /// path segment is compared byte for byte anyway.
    private static func hash(_ segment: Substring) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in segment.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return h
    }

    /// The index in `resources` of the most specific resource covering `path`.
    func match(_ path: String) -> Int? {
        if let segment = Self.firstSegment(path), let candidates = bySegment[Self.hash(segment)],
            let hit = candidates.first(where: { resources[$0].scope.covers(path: path) })
        {
            return hit
        }
        return everywhere.first { resources[$0].scope.covers(path: path) }
    }

    /// The most specific resource whose prefix covers `path`, or nil when the path is under none.
    public func resource(covering path: String) -> Resource? {
        match(path).map { resources[$0] }
    }

    /// True when the resource at `index` admits `user` (anonymous resources admit everyone).
    func admits(_ user: String, resourceAt index: Int) -> Bool {
        resources[index].anonymous || admitted[index].contains(user)
    }

    /// The groups `user` belongs to.
    public func groups(of user: String) -> Set<String> { groupsByUser[user] ?? [] }

    /// The privileges `user` holds through roles granted to them or to their groups, each with how.
    public func privileges(of user: String) -> [String: String] { privilegesByUser[user] ?? [:] }

    /// True when `user` holds `privilege`.
    public func holds(_ user: String, _ privilege: String) -> Bool { privilegesByUser[user]?[privilege] != nil }

    /// How `user` may call `resource` (owner, audience, or a role's `access:` privilege), or nil
    /// when they may not. An anonymous resource admits everyone. For `explain`; the check asks `admits`.
    public func grant(for user: String, to resource: Resource) -> String? {
        if resource.anonymous { return "anonymous resource" }
        if resource.owner == user { return "owner of resource \(resource.name)" }
        let groups = groupsByUser[user]
        for principal in resource.audience {
            switch principal {
            case .user(let name) where name == user: return "audience user:\(user) of resource \(resource.name)"
            case .group(let name) where groups?.contains(name) == true:
                return "audience group:\(name) of resource \(resource.name)"
            default: continue
            }
        }
        if let how = privilegesByUser[user]?[Privilege.access(resource.name)] {
            return "\(Privilege.access(resource.name)) through \(how)"
        }
        return nil
    }
}
