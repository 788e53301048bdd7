import KeywardAdmin
import KeywardCore
import KeywardStore

/// `keyward user ...`, on the admin operations the admin API shares.
enum UserCommands {
    static let verbs: [String: CommandSpec] = [
        "add": CommandSpec(
            usage: "user add NAME [--email ADDR]",
            summary: "Add a user. Names: letters, digits and . _ @ -, at most 64; `anonymous` is reserved.",
            options: [.init("email", value: "ADDR", "where notifications to the user go")]),
        "list": CommandSpec(usage: "user list", summary: "List users."),
        "show": CommandSpec(usage: "user show NAME", summary: "Show a user, their e-mail address, groups, roles and keys."),
        "email": CommandSpec(
            usage: "user email NAME ADDR | user email NAME --clear",
            summary: "Set or clear the user's e-mail address (for notifications).",
            options: [.init("clear", "remove the address")]),
        "disable": CommandSpec(usage: "user disable NAME", summary: "Disable a user: all their credentials stop working on the next request."),
        "enable": CommandSpec(usage: "user enable NAME", summary: "Enable a disabled user."),
        "delete": CommandSpec(usage: "user delete NAME", summary: "Delete a user and all their keys."),
        "passwd": CommandSpec(
            usage: "user passwd NAME --password-stdin",
            summary: "Set the user's password (for the admin pages and API) from the first line of stdin; stored as a salted scrypt hash.",
            options: [.init("password-stdin", "read the password from standard input (the only way: never on the command line)")]),
    ]

    /// `user show --json`: the user, their groups and roles (direct or through a group), and keys.
    struct Shown: Encodable {
        let user: UserRow
        let groups: [String]
        let roles: [String]
        let keys: [KeyRow]
    }

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "user", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        let admin = try context.admin()
        switch verb {
        case "add":
            let name = try args.positional("NAME")[0]
            let user = try admin.addUser(name, email: args.value("email"))
            try context.emit(["user": user.name, "result": verb]) { "user \(user.name): \(verb) done" }
        case "list":
            _ = try args.positional()
            let users = try admin.users()
            try context.emit(users) {
                users.isEmpty
                    ? "no users"
                    : table(
                        ["NAME", "STATUS", "KEYS", "CREATED", "EMAIL"],
                        users.map { [$0.name, $0.status.rawValue, String($0.keyCount), Time.iso($0.createdAt), $0.email ?? "-"] })
            }
        case "show":
            let name = try args.positional("NAME")[0]
            let user = try admin.user(name)
            let keys = try admin.keys(user: name)
            let groups = try admin.groups().filter { $0.members.contains(name) }.map(\.name)
            let grantees = Set(["user:" + name] + groups.map { "group:" + $0 })
            let roles = try admin.roles().filter { !grantees.isDisjoint(with: $0.grantedTo) }.map(\.name)
            try context.emit(Shown(user: user, groups: groups, roles: roles, keys: keys)) {
                "user \(user.name)\n  status   \(user.status.rawValue)\n  email    \(user.email ?? "none")\n"
                    + "  created  \(Time.iso(user.createdAt))\n"
                    + "  groups   \(groups.isEmpty ? "none" : groups.joined(separator: " "))\n"
                    + "  roles    \(roles.isEmpty ? "none" : roles.joined(separator: " "))\n  keys     "
                    + (keys.isEmpty ? "none" : keys.map(\.id).joined(separator: " "))
            }
        case "email":
            let clear = args.flags.contains("clear")
            let given = clear ? try args.positional("NAME") : try args.positional("NAME", "ADDR")
            let name = given[0], email = clear ? nil : given[1]
            try admin.setEmail(name, email)
            try context.emit(["user": name, "email": email]) { "user \(name): " + (email.map { "e-mail set to \($0)" } ?? "e-mail cleared") }
        case "passwd":
            let name = try args.positional("NAME")[0]
            guard args.flags.contains("password-stdin") else { throw UsageError("--password-stdin is required") }
            guard let line = readLine(strippingNewline: true) else { throw Refusal("no password on standard input") }
            try admin.setPassword(name, line)
            try context.emit(["user": name, "result": "passwd"]) { "user \(name): password set" }
        default:
            let name = try args.positional("NAME")[0]
            guard let command = UserChange(rawValue: verb) else { preconditionFailure("unhandled verb \(verb)") }
            try admin.setUser(name, command)
            try context.emit(["user": name, "result": verb]) { "user \(name): \(verb) done" }
        }
    }
}

/// A plain-text table with left-aligned columns; a cell's control characters (a newline too) are escaped.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows.map { $0.map { PrintableText.escaped($0) } }
    let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
