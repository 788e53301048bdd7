import KeywardCore
import KeywardCrypto
import KeywardStore

/// `keyward user ...`.
enum UserCommands {
    static let verbs: [String: CommandSpec] = [
        "add": CommandSpec(usage: "user add NAME", summary: "Add a user. Names: letters, digits and . _ @ -, at most 64."),
        "list": CommandSpec(usage: "user list", summary: "List users."),
        "show": CommandSpec(usage: "user show NAME", summary: "Show a user and their keys."),
        "disable": CommandSpec(usage: "user disable NAME", summary: "Disable a user: all their credentials stop working on the next request."),
        "enable": CommandSpec(usage: "user enable NAME", summary: "Enable a disabled user."),
        "delete": CommandSpec(usage: "user delete NAME", summary: "Delete a user and all their keys."),
        "passwd": CommandSpec(usage: "user passwd NAME --password-stdin",
                              summary: "Set the user's password (for the admin pages and API) from the first line of stdin; stored as a salted scrypt hash.",
                              options: [.init("password-stdin", "read the password from standard input (the only way: never on the command line)")]),
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "user", verbs: verbs),
              let args = try CLI.parse(rest, spec) else { return }
        let store = try context.openStore()
        switch verb {
        case "list":
            _ = try args.positional()
            let users = try store.users()
            try context.emit(users) {
                users.isEmpty ? "no users" : table(["NAME", "STATUS", "KEYS", "CREATED"],
                    users.map { [$0.name, $0.status.rawValue, String($0.keyCount), Time.iso($0.createdAt)] })
            }
        case "show":
            let name = try args.positional("NAME")[0]
            let user = try store.user(name)
            let keys = try store.keys(user: name)
            struct Shown: Encodable { let user: UserRow; let keys: [KeyRow] }
            try context.emit(Shown(user: user, keys: keys)) {
                "user \(user.name)\n  status   \(user.status.rawValue)\n  created  \(Time.iso(user.createdAt))\n  keys     "
                    + (keys.isEmpty ? "none" : keys.map(\.id).joined(separator: " "))
            }
        case "passwd":
            let name = try args.positional("NAME")[0]
            guard args.flags.contains("password-stdin") else { throw UsageError("--password-stdin is required") }
            guard let line = readLine(strippingNewline: true), (8...1024).contains(line.utf8.count) else {
                throw Refusal("a password of 8 to 1024 bytes is required on standard input")
            }
            let hash = PasswordHash(password: line)
            try store.db.transaction {
                try store.setUserPassword(name, hash: hash.encoded)
                try context.audit(store, "user.passwd", target: "user:\(name)")
            }
            try context.emit(["user": name, "result": "passwd"]) { "user \(name): password set" }
        default:
            let name = try args.positional("NAME")[0]
            try store.db.transaction {
                switch verb {
                case "add":
                    guard validName(name) else { throw Refusal("invalid user name (letters, digits, . _ @ -; at most 64)") }
                    try store.addUser(name, now: context.clock.now)
                case "disable": try store.setUserStatus(name, .disabled)
                case "enable": try store.setUserStatus(name, .active)
                case "delete": try store.deleteUser(name)
                default: preconditionFailure("unhandled verb")
                }
                try context.audit(store, "user.\(verb)", target: "user:\(name)")
            }
            try context.emit(["user": name, "result": verb]) { "user \(name): \(verb) done" }
        }
    }

    static func validName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || ".-_@".utf8.contains(c)
        }
    }
}

/// A plain-text table with left-aligned columns.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
