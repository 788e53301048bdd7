import Foundation
import KeywardAdmin
import KeywardCore
import KeywardStore

/// `keyward service ...`: services, their service keys (`kws_`) and JWT secrets (`kwj_`), and
/// their rotation (at least one active, at most one inactive, at most two active, per type).
enum ServiceCommands {
    static let passwordOptions: [CommandSpec.Option] = [
        .init("password-stdin", "read the password from standard input (the only way: never on the command line)"),
        .init("password-of", value: "USER", "whose password it is: the owner (default) or an admin"),
    ]

    static let verbs: [String: CommandSpec] = [
        "create": CommandSpec(
            usage: "service create NAME --owner USER [--scope /path/ ...] [--allow-ip CIDR ...]",
            summary: """
                Create a service with one active service key (kws_) and one active JWT secret (32 random bytes, \
                base64), both printed once. Clients send the key like an API key, or sign their own HS256 JWTs \
                with the secret (iss: the service's name or a service-key id).
                """,
            options: [
                .init("owner", value: "USER", "the user the service acts for (X-Auth-User); their grants apply"),
                .init(
                    "scope", value: "[METHODS:]PREFIX", repeatable: true,
                    "allowed path prefix, e.g. /api/ or GET,HEAD:/api/ro/ (default: every path)"),
                .init("allow-ip", value: "CIDR", repeatable: true, "allowed client network, IPv4 or IPv6 (default: any)"),
            ]),
        "list": CommandSpec(
            usage: "service list [--owner USER]", summary: "List services and their credentials, masked.",
            options: [.init("owner", value: "USER", "only this user's services")]),
        "show": CommandSpec(usage: "service show NAME", summary: "Show one service and its credentials, masked."),
        "delete": CommandSpec(
            usage: "service delete NAME --password-stdin [--password-of USER]",
            summary: "Delete a service and all its credentials; needs the owner's (or an admin's) password again.",
            options: passwordOptions),
        "credential": CommandSpec(
            usage:
                "service credential add NAME service-key|jwt-secret | discard|reactivate NAME CRED_ID | delete|reveal NAME CRED_ID --password-stdin",
            summary: """
                Rotate a service's credentials, each type on its own: add (a second active one, printed once), \
                discard (active to inactive: refused from the next request on), reactivate, delete (inactive only) \
                and reveal (print the secret); delete and reveal need the owner's (or an admin's) password again. \
                At least one stays active, at most one is inactive, at most two are active; a refused change exits 1 \
                with the reason.
                """,
            options: passwordOptions),
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "service", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        let admin = try context.admin()
        switch verb {
        case "create":
            let name = try args.positional("NAME")[0]
            guard let owner = args.value("owner") else { throw UsageError("--owner is required") }
            let created = try admin.createService(
                name, owner: owner, scopes: try CredentialArguments.scopes(args), networks: try CredentialArguments.networks(args))
            try context.emit(created) {
                """
                created service \(name) (owner \(owner))
                service key \(created.service.credentials.first { $0.type == .serviceKey }?.id ?? ""), shown only now:
                \(created.serviceKey)
                JWT secret \(created.jwtSecretId) (base64), shown only now:
                \(created.jwtSecret)
                """
            }
        case "list":
            _ = try args.positional()
            let rows = try admin.services(owner: args.value("owner"))
            try context.emit(rows) {
                rows.isEmpty
                    ? "no services"
                    : table(
                        ["NAME", "OWNER", "SERVICE KEYS", "JWT SECRETS", "CREATED"],
                        rows.map { [$0.name, $0.owner, summary($0, .serviceKey), summary($0, .jwtSecret), Time.iso($0.createdAt)] })
            }
        case "show":
            let row = try admin.service(try args.positional("NAME")[0])
            try context.emit(row) { describe(row) }
        case "delete":
            let name = try args.positional("NAME")[0]
            try admin.deleteService(name, password: try password(args), passwordOf: args.value("password-of"))
            try context.emit(["service": name, "result": "deleted"]) { "service \(name) deleted" }
        default:
            try credential(args, admin, context)
        }
    }

    /// `service credential VERB NAME ...`.
    static func credential(_ args: ParsedArguments, _ admin: Admin, _ context: Context) throws {
        guard let verb = args.positionals.first else { throw UsageError("missing add|discard|reactivate|delete|reveal") }
        switch verb {
        case "add":
            let given = try positional(args, "NAME", "service-key|jwt-secret")
            guard let type = ServiceCredentialType(rawValue: given[1]) else {
                throw UsageError("unknown credential type \(given[1]); one of service-key|jwt-secret")
            }
            let shown = try admin.addServiceCredential(given[0], type: type)
            try context.emit(shown) {
                "added \(type.rawValue) \(shown.id) to service \(shown.service), shown only now:\n\(shown.secret)"
            }
        case "discard", "reactivate":
            let given = try positional(args, "NAME", "CRED_ID")
            try admin.setServiceCredential(given[0], try credentialId(given[1]), ServiceCredentialChange(rawValue: verb)!)
            let row = try admin.service(given[0])
            try context.emit(row) { "service \(given[0]): \(given[1]) \(verb == "discard" ? "discarded" : "reactivated")\n" + describe(row) }
        case "delete":
            let given = try positional(args, "NAME", "CRED_ID")
            let id = try credentialId(given[1])
            try admin.deleteServiceCredential(given[0], id, password: try password(args), passwordOf: args.value("password-of"))
            try context.emit(["service": given[0], "id": id, "result": "deleted"]) { "service \(given[0]): \(id) deleted" }
        case "reveal":
            let given = try positional(args, "NAME", "CRED_ID")
            let shown = try admin.revealServiceCredential(
                given[0], try credentialId(given[1]), password: try password(args), passwordOf: args.value("password-of"))
            try context.emit(shown) { "\(shown.type.rawValue) \(shown.id) of service \(shown.service):\n\(shown.secret)" }
        default:
            throw UsageError("unknown command service credential \(verb); one of add|discard|reactivate|delete|reveal")
        }
    }

    /// The words after `service credential VERB`.
    static func positional(_ args: ParsedArguments, _ names: String...) throws -> [String] {
        var rest = args
        rest.positionals.removeFirst()
        guard rest.positionals.count == names.count else {
            throw UsageError(
                rest.positionals.count < names.count
                    ? "missing \(names[rest.positionals.count])" : "unexpected argument \(rest.positionals[names.count])")
        }
        return rest.positionals
    }

    /// A service credential id; a pasted secret is refused without being echoed.
    static func credentialId(_ text: String) throws -> String {
        if let secret = OpaqueSecret(parsing: Substring(text)) {
            throw UsageError("that is a secret, not a credential id; the id is \(secret.id)")
        }
        guard ServiceCredentialType(credentialId: text) != nil else {
            throw UsageError("not a service credential id (kws_ or kwj_ followed by 16 letters and digits)")
        }
        return text
    }

    /// The password, from the first line of standard input.
    static func password(_ args: ParsedArguments) throws -> String {
        guard args.flags.contains("password-stdin") else { throw UsageError("--password-stdin is required") }
        guard let line = readLine(strippingNewline: true) else { throw Refusal("no password on standard input") }
        return line
    }

    /// `kws_…_•••• (active), …` for one type.
    static func summary(_ row: ServiceRow, _ type: ServiceCredentialType) -> String {
        row.credentials.filter { $0.type == type }.map { "\($0.masked) \($0.status)" }.joined(separator: ", ")
    }

    static func describe(_ row: ServiceRow) -> String {
        var text = """
            service \(row.name)
              owner      \(row.owner)
              created    \(Time.iso(row.createdAt))
              scopes     \(row.scopes.isEmpty ? "every path" : row.scopes.joined(separator: " "))
              allow-ip   \(row.allowIPs.isEmpty ? "any" : row.allowIPs.joined(separator: " "))
              credentials:
            """
        for c in row.credentials {
            text += "\n    \(c.masked)  \(c.type.rawValue)  \(c.status)  created \(Time.iso(c.createdAt))"
            text += "  last used \(c.lastUsedAt.map(Time.iso) ?? "never")  uses \(c.useCount)"
        }
        return text
    }
}
