import KeywardAdmin
import KeywardCore
import KeywardStore

/// `keyward group ...`: named sets of users, the audience of resources and the grantees of roles.
enum GroupCommands {
    static let verbs: [String: CommandSpec] = [
        "add": CommandSpec(usage: "group add GROUP", summary: "Add an empty group. Names: letters, digits and . _ @ -, at most 64."),
        "list": CommandSpec(usage: "group list", summary: "List groups with their members and roles."),
        "show": CommandSpec(usage: "group show GROUP", summary: "Show one group: members and the roles granted to it."),
        "delete": CommandSpec(
            usage: "group delete GROUP",
            summary: "Delete a group; its members lose what it gave them from the next request on."),
        "member": CommandSpec(
            usage: "group member add|remove GROUP USER",
            summary: "Put a user into a group or take them out; takes effect on the next request."),
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "group", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        let admin = try context.admin()
        switch verb {
        case "add":
            let row = try admin.addGroup(try args.positional("GROUP")[0])
            try context.emit(row) { "group \(row.name): added" }
        case "list":
            _ = try args.positional()
            let rows = try admin.groups()
            try context.emit(rows) {
                rows.isEmpty
                    ? "no groups"
                    : table(
                        ["NAME", "MEMBERS", "ROLES", "CREATED"],
                        rows.map {
                            [$0.name, list($0.members), list($0.roles), Time.iso($0.createdAt)]
                        })
            }
        case "show":
            let row = try admin.group(try args.positional("GROUP")[0])
            try context.emit(row) {
                "group \(row.name)\n  members  \(list(row.members, none: "none"))\n  roles    \(list(row.roles, none: "none"))\n"
                    + "  created  \(Time.iso(row.createdAt))"
            }
        case "delete":
            let name = try args.positional("GROUP")[0]
            try admin.deleteGroup(name)
            try context.emit(["group": name, "result": "deleted"]) { "group \(name): deleted" }
        case "member":
            let given = try args.positional("add|remove", "GROUP", "USER")
            guard given[0] == "add" || given[0] == "remove" else {
                throw UsageError("unknown command group member \(given[0]); one of add|remove")
            }
            let add = given[0] == "add"
            try admin.setMember(group: given[1], user: given[2], add: add)
            try context.emit(["group": given[1], "user": given[2], "result": add ? "added" : "removed"]) {
                "group \(given[1]): user \(given[2]) \(add ? "added" : "removed")"
            }
        default: preconditionFailure("unhandled verb")
        }
    }
}

/// `keyward role ...`: named sets of privileges, granted to groups or users.
enum RoleCommands {
    static let privilegeHelp = "admin, manage-own-keys, use-api-key, or access:RESOURCE"

    static let verbs: [String: CommandSpec] = [
        "add": CommandSpec(
            usage: "role add ROLE --privilege P ...",
            summary: "Add a role carrying privileges: \(privilegeHelp). Grant it with `role grant`.",
            options: [.init("privilege", value: "P", repeatable: true, privilegeHelp)]),
        "list": CommandSpec(usage: "role list", summary: "List roles with their privileges and grantees."),
        "show": CommandSpec(usage: "role show ROLE", summary: "Show one role."),
        "delete": CommandSpec(usage: "role delete ROLE", summary: "Delete a role and its grants; takes effect on the next request."),
        "grant": CommandSpec(
            usage: "role grant ROLE --group G | --user U",
            summary: "Grant a role to a group (all its members) or a user; takes effect on the next request.",
            options: grantOptions),
        "revoke": CommandSpec(
            usage: "role revoke ROLE --group G | --user U",
            summary: "Revoke a role from a group or a user; takes effect on the next request.",
            options: grantOptions),
    ]

    static let grantOptions: [CommandSpec.Option] = [
        .init("group", value: "G", "the group holding the role"),
        .init("user", value: "U", "the user holding the role"),
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "role", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        let admin = try context.admin()
        switch verb {
        case "add":
            let name = try args.positional("ROLE")[0]
            let privileges = args.all("privilege")
            guard !privileges.isEmpty else { throw UsageError("--privilege is required (\(privilegeHelp))") }
            let row = try admin.addRole(name, privileges: privileges)
            try context.emit(row) { "role \(row.name): added (\(row.privileges.joined(separator: " ")))" }
        case "list":
            _ = try args.positional()
            let rows = try admin.roles()
            try context.emit(rows) {
                rows.isEmpty
                    ? "no roles"
                    : table(
                        ["NAME", "PRIVILEGES", "GRANTED TO", "CREATED"],
                        rows.map {
                            [$0.name, list($0.privileges), list($0.grantedTo), Time.iso($0.createdAt)]
                        })
            }
        case "show":
            let row = try admin.role(try args.positional("ROLE")[0])
            try context.emit(row) {
                "role \(row.name)\n  privileges  \(list(row.privileges, none: "none"))\n"
                    + "  granted to  \(list(row.grantedTo, none: "nobody"))\n  created     \(Time.iso(row.createdAt))"
            }
        case "delete":
            let name = try args.positional("ROLE")[0]
            try admin.deleteRole(name)
            try context.emit(["role": name, "result": "deleted"]) { "role \(name): deleted" }
        case "grant", "revoke":
            let name = try args.positional("ROLE")[0]
            let principal: Principal
            switch (args.value("group"), args.value("user")) {
            case (let group?, nil): principal = .group(group)
            case (nil, let user?): principal = .user(user)
            default: throw UsageError("give exactly one of --group G and --user U")
            }
            try admin.setGrant(role: name, principal, grant: verb == "grant")
            let done = verb == "grant" ? "granted to" : "revoked from"
            try context.emit(["role": name, "principal": principal.description, "result": verb == "grant" ? "granted" : "revoked"]) {
                "role \(name): \(done) \(principal)"
            }
        default: preconditionFailure("unhandled verb")
        }
    }
}

/// `keyward resource ...`: the protected APIs, path prefixes with their own rules.
enum ResourceCommands {
    static let addOptions: [CommandSpec.Option] = [
        .init("path", value: "/PREFIX/", "the path prefix it covers; the most specific resource decides a request"),
        .init("method", value: "M", repeatable: true, "an allowed method (GET also allows HEAD; default: every method)"),
        .init("anonymous", "requests without a credential are allowed (X-Auth-Method: anonymous)"),
        .init("audience", value: "group:G|user:U", repeatable: true, "who may call it besides its owner and holders of access:NAME"),
        .init("owner", value: "U", "the user who owns it and decides access requests"),
        .init("allow-ip", value: "CIDR", repeatable: true, "allowed client networks, IPv4 or IPv6, with or without a credential (default: any)"),
    ]

    static let verbs: [String: CommandSpec] = [
        "add": CommandSpec(
            usage:
                "resource add NAME --path /PREFIX/ [--method M ...] [--anonymous] [--audience group:G|user:U ...] [--owner U] [--allow-ip CIDR ...]",
            summary: """
                Add a protected API. A request under its path is allowed for its owner, its audience and holders of
                access:NAME (always within the key's own scopes), or for everyone when --anonymous.
                """,
            options: addOptions),
        "update": CommandSpec(
            usage: "resource update NAME [--path /PREFIX/] [--method M ... | --any-method] [--anonymous | --no-anonymous] "
                + "[--audience group:G|user:U ... | --clear-audience] [--owner U | --no-owner] [--allow-ip CIDR ... | --clear-allow-ip]",
            summary: """
                Change a resource; options not given stay as they are, a given list replaces the stored one.
                Takes effect on the next request.
                """,
            options: addOptions + [
                .init("any-method", "allow every method again"),
                .init("no-anonymous", "require a credential again"),
                .init("clear-audience", "empty the audience"),
                .init("no-owner", "remove the owner"),
                .init("clear-allow-ip", "allow every client address again"),
            ]),
        "list": CommandSpec(usage: "resource list", summary: "List resources."),
        "show": CommandSpec(usage: "resource show NAME", summary: "Show one resource."),
        "delete": CommandSpec(
            usage: "resource delete NAME",
            summary: "Delete a resource and the access:NAME privileges; its paths fall back to the key scopes alone."),
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "resource", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        let admin = try context.admin()
        switch verb {
        case "add":
            let name = try args.positional("NAME")[0]
            guard let path = args.value("path") else { throw UsageError("--path is required") }
            var resourceSpec = try self.spec(args, current: nil)
            resourceSpec.path = try scope(path, methods: args.all("method"))
            let row = try admin.addResource(name, resourceSpec)
            try context.emit(row) { "resource \(row.name): added\n" + describe(row) }
        case "update":
            let name = try args.positional("NAME")[0]
            guard !args.values.isEmpty || !args.flags.isEmpty else { throw UsageError("nothing to change: give an option (see --help)") }
            let row = try admin.updateResource(name, try self.spec(args, current: try admin.resource(name)))
            try context.emit(row) { "resource \(row.name): updated\n" + describe(row) }
        case "list":
            _ = try args.positional()
            let rows = try admin.resources()
            try context.emit(rows) {
                rows.isEmpty
                    ? "no resources"
                    : table(
                        ["NAME", "PATH", "METHODS", "ANONYMOUS", "OWNER", "AUDIENCE", "ALLOW-IP"],
                        rows.map {
                            [
                                $0.name, $0.path, $0.methods.isEmpty ? "*" : $0.methods.joined(separator: ","), $0.anonymous ? "yes" : "no",
                                $0.owner ?? "-", list($0.audience), $0.allowIPs.isEmpty ? "any" : $0.allowIPs.joined(separator: " "),
                            ]
                        })
            }
        case "show":
            let row = try admin.resource(try args.positional("NAME")[0])
            try context.emit(row) { "resource \(row.name)\n" + describe(row) }
        case "delete":
            let name = try args.positional("NAME")[0]
            try admin.deleteResource(name)
            try context.emit(["resource": name, "result": "deleted"]) { "resource \(name): deleted" }
        default: preconditionFailure("unhandled verb")
        }
    }

    /// The options as a `ResourceSpec`; `current` (on update) supplies the path or methods not given.
    static func spec(_ args: ParsedArguments, current: ResourceRow?) throws -> ResourceSpec {
        func exclusive(_ a: String, _ b: String) throws {
            if (args.values[a] != nil || args.flags.contains(a)) && args.flags.contains(b) {
                throw UsageError("--\(a) and --\(b) exclude each other")
            }
        }
        try exclusive("method", "any-method")
        try exclusive("anonymous", "no-anonymous")
        try exclusive("audience", "clear-audience")
        try exclusive("owner", "no-owner")
        try exclusive("allow-ip", "clear-allow-ip")
        var spec = ResourceSpec()
        if let current, args.value("path") != nil || args.values["method"] != nil || args.flags.contains("any-method") {
            let methods = args.flags.contains("any-method") ? [] : args.values["method"] ?? current.methods
            spec.path = try scope(args.value("path") ?? current.path, methods: methods)
        }
        if args.flags.contains("anonymous") { spec.anonymous = true }
        if args.flags.contains("no-anonymous") { spec.anonymous = false }
        if let texts = args.values["audience"] {
            spec.audience = try texts.map { text in
                guard let principal = Principal(text) else { throw UsageError("invalid --audience \(text): want group:G or user:U") }
                return principal
            }
        }
        if args.flags.contains("clear-audience") { spec.audience = [] }
        if let owner = args.value("owner") { spec.owner = .some(owner) }
        if args.flags.contains("no-owner") { spec.owner = .some(nil) }
        if args.values["allow-ip"] != nil { spec.allowedNetworks = try CredentialArguments.networks(args) }
        if args.flags.contains("clear-allow-ip") { spec.allowedNetworks = [] }
        return spec
    }

    /// `--path` with its `--method`s as one scope; the path must be absolute and already normal.
    static func scope(_ path: String, methods: [String]) throws -> PathScope {
        guard path.hasPrefix("/") else { throw UsageError("invalid --path \(path): want an absolute prefix such as /api/billing/") }
        for method in methods {
            guard !method.isEmpty, method.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }) else {
                throw UsageError("invalid --method \(method): want a method name such as GET")
            }
        }
        guard let scope = PathScope(prefix: path, methods: methods.map { $0.uppercased() }) else {
            throw UsageError("invalid --path \(path): want a normalised prefix (no . or .. segments, %2F, backslash)")
        }
        return scope
    }

    static func describe(_ row: ResourceRow) -> String {
        """
          path       \(row.path)
          methods    \(row.methods.isEmpty ? "every method" : row.methods.joined(separator: ","))
          anonymous  \(row.anonymous ? "yes: no credential needed" : "no")
          owner      \(row.owner ?? "none")
          audience   \(list(row.audience.map { entry in row.audienceUntil[entry].map { "\(entry) (until \(Time.iso($0)))" } ?? entry }, none: "none"))
          allow-ip   \(row.allowIPs.isEmpty ? "any" : row.allowIPs.joined(separator: " "))
          created    \(Time.iso(row.createdAt))
        """
    }
}

/// `keyward explain`: why a request would be allowed or denied, step by step.
enum ExplainCommand {
    static let spec = CommandSpec(
        usage: "explain [--credential ID] --path P [--method M] [--ip A]",
        summary: """
            Explain the decision for a request, without a secret and without recording anything: the resource
            the path falls under, the credential's state, the scope and the grant it intersected with, the
            address rules. Without --credential, explains a request without one. Exit 0 when it would be
            allowed, 1 when denied; --json prints {allowed, status, code, message, steps}.
            """,
        options: [
            .init("credential", value: "ID", "the credential's public id (kwk_... or kwc_...), never its secret"),
            .init("path", value: "P", "the request path, as a client sends it (query allowed)"),
            .init("method", value: "M", "the request method (default GET)"),
            .init("ip", value: "A", "the client address, IPv4 or IPv6 (default: none, so address rules refuse)"),
        ])

    /// `--json` output.
    struct Explained: Encodable {
        let allowed: Bool
        let status: Int
        let code: String?
        let message: String?
        let user: String?
        let credential: String?
        let steps: [String]

        enum CodingKeys: String, CodingKey { case allowed, status, code, message, user, credential, steps }

        /// Every field, null when empty: one shape for allowed and denied.
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(allowed, forKey: .allowed)
            try c.encode(status, forKey: .status)
            try c.encode(code, forKey: .code)
            try c.encode(message, forKey: .message)
            try c.encode(user, forKey: .user)
            try c.encode(credential, forKey: .credential)
            try c.encode(steps, forKey: .steps)
        }
    }

    /// Prints the explanation and returns the exit status: 0 allowed, 1 denied.
    static func run(_ words: ArraySlice<String>, _ context: Context) throws -> Int32 {
        guard let args = try CLI.parse(words, spec) else { return 0 }
        _ = try args.positional()
        guard let path = args.value("path") else { throw UsageError("--path is required") }
        guard path.hasPrefix("/") else { throw UsageError("invalid --path \(path): want an absolute path such as /api/x") }
        let credential = try args.value("credential").map { id in
            if let secret = OpaqueSecret(parsing: Substring(id)) {
                throw UsageError("that is a secret, not a credential id; the id is \(secret.id)")
            }
            guard SecretKind(credentialId: id) != nil else { throw UsageError("not a credential id (\(SecretKind.idShape))") }
            return id
        }
        let method = args.value("method") ?? "GET"
        guard !method.isEmpty, method.utf8.count <= 16, method.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }) else {
            throw UsageError("invalid --method \(method): want a method name such as GET")
        }
        let ip = try args.value("ip").map { text in
            guard IPAddress(text) != nil else { throw UsageError("invalid --ip \(text): want an IPv4 or IPv6 address") }
            return text
        }
        let (decision, steps) = try context.admin().explain(credential: credential, path: path, method: method, ip: ip)
        let explained: Explained
        switch decision {
        case .allow(let identity):
            explained = Explained(
                allowed: true, status: 200, code: nil, message: nil, user: identity.user,
                credential: identity.credential.isEmpty ? nil : identity.credential, steps: steps)
        case .deny(let denial):
            explained = Explained(
                allowed: false, status: denial.reason.kind.status, code: denial.reason.rawValue,
                message: denial.reason.message, user: denial.user, credential: denial.credential, steps: steps)
        }
        try context.emit(explained) {
            steps.enumerated().map { "\($0.offset + 1). \($0.element)" }.joined(separator: "\n") + "\n"
                + (explained.allowed
                    ? "decision: allow (200)"
                    : "decision: deny (\(explained.status) \(explained.code ?? "")): \(explained.message ?? "")")
        }
        return explained.allowed ? 0 : 1
    }
}

/// Names separated by spaces, or `-` when there are none (table cells).
func list(_ names: [String], none: String = "-") -> String {
    names.isEmpty ? none : names.joined(separator: " ")
}
