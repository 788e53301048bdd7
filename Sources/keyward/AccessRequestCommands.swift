import Foundation
import KeywardAdmin
import KeywardCore
import KeywardStore

/// `keyward access ...`: consumers ask for a resource, its owner or an admin approves (a key
/// scoped to it, mailed as a one-time link) or rejects.
enum AccessRequestCommands {
    static let sendmail = CommandSpec.Option(
        "sendmail", value: "PATH", "sendmail program (default: `sendmail` in the config file, else /usr/sbin/sendmail -t -i)")

    static let verbs: [String: CommandSpec] = [
        "request": CommandSpec(
            usage: "access request --user U --resource R [--note TEXT] [--sendmail PATH]",
            summary: "Ask for access to a resource for a user; mails the resource's owner (or the admins when it has none).",
            options: [
                .init("user", value: "U", "who asks"),
                .init("resource", value: "R", "the resource asked for"),
                .init("note", value: "TEXT", "why, for the approver (at most 500 characters, one line)"),
                sendmail,
            ]),
        "list": CommandSpec(
            usage: "access list [--status pending|approved|rejected]", summary: "List access requests, oldest first.",
            options: [.init("status", value: "S", "only requests in this state")]),
        "show": CommandSpec(usage: "access show ID", summary: "Show one access request."),
        "approve": CommandSpec(
            usage: "access approve ID [--expires 30d|never] [--sendmail PATH]",
            summary: """
                Approve a pending request: issue the requester a key scoped to the resource, add them to its audience, and mail them
                the key id, its expiry and a one-time link to the secret (valid 24 h; the secret itself with mail_secret_inline = true);
                the approver and the owner get a confirmation without the secret.
                """,
            options: [.init("expires", value: "DURATION", "lifetime of the issued key: 45s, 30m, 12h, 30d or never (default 30d)"), sendmail]),
        "reject": CommandSpec(
            usage: "access reject ID [--reason TEXT] [--sendmail PATH]",
            summary: "Reject a pending request and mail the requester.",
            options: [.init("reason", value: "TEXT", "told to the requester (at most 500 characters, one line)"), sendmail]),
    ]

    /// `access request|approve|reject --json`: the request and what became of each mail.
    struct Decided: Encodable {
        let request: AccessRequestRow
        let mail: [MailNotice]
    }

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let (verb, rest, spec) = try CLI.verb(words, group: "access", verbs: verbs),
            let args = try CLI.parse(rest, spec)
        else { return }
        let admin = try admin(context, args)
        switch verb {
        case "request":
            _ = try args.positional()
            guard let user = args.value("user") else { throw UsageError("--user is required") }
            guard let resource = args.value("resource") else { throw UsageError("--resource is required") }
            let row = try admin.requestAccess(user: user, resource: resource, note: args.value("note"))
            try context.emit(Decided(request: row, mail: admin.notices)) {
                "access request #\(row.id): \(row.user) asks for \(row.resource) (pending)\n" + mailLines(admin.notices)
            }
        case "list":
            _ = try args.positional()
            let rows = try admin.accessRequests(status: args.value("status"))
            try context.emit(rows) {
                rows.isEmpty
                    ? "no access requests"
                    : table(
                        ["ID", "USER", "RESOURCE", "STATUS", "ASKED", "DECIDED BY", "KEY", "EXPIRES", "NOTE"],
                        rows.map {
                            [
                                "\($0.id)", $0.user, $0.resource, $0.status, Time.iso($0.createdAt), $0.decidedBy ?? "-", $0.keyId ?? "-",
                                $0.keyId == nil ? "-" : Time.iso($0.expiresAt), $0.note ?? "",
                            ]
                        })
            }
        case "show":
            let row = try admin.accessRequest(try requestId(args))
            try context.emit(row) { describe(row) }
        case "approve":
            let id = try requestId(args)
            let expires = try CredentialArguments.lifetime(args.value("expires"), default: .seconds(try context.limits().defaultKeyLifetime))
            let row = try admin.approveAccess(id, expires: expires)
            try context.emit(Decided(request: row, mail: admin.notices)) {
                var text =
                    "access request #\(id) approved: key \(row.keyId ?? "-") for \(row.user) on \(row.resource), "
                    + "expires \(Time.iso(row.expiresAt))\n" + mailLines(admin.notices)
                if let notice = admin.notices.first(where: { $0.about == "access.approve" }), notice.result != "sent", let key = row.keyId {
                    text +=
                        "\n\(row.user) has not got the secret by mail: they collect it once on the admin pages (Access requests) within "
                        + "\(admin.limits.revealLinkLifetime / 3_600) hours, or hand out a new one with `keyward key regenerate \(key)`"
                }
                return text
            }
        case "reject":
            let id = try requestId(args)
            let row = try admin.rejectAccess(id, reason: args.value("reason"))
            try context.emit(Decided(request: row, mail: admin.notices)) {
                "access request #\(id) rejected\n" + mailLines(admin.notices)
            }
        default: preconditionFailure("unhandled verb")
        }
    }

    /// The admin operations as the command line, with the mail settings of the options and the config file.
    static func admin(_ context: Context, _ args: ParsedArguments) throws -> Admin {
        let admin = try context.admin()
        // --sendmail is a path, relative to the working directory like any other.
        let sendmail = args.value("sendmail").map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
        do {
            admin.mail = try MailSettings(config: context.config.values, sendmail: sendmail)
        } catch let error as AdminError {
            throw UsageError("mail settings: \(error.message)")
        }
        return admin
    }

    /// The one positional request number (`12` or `#12`).
    static func requestId(_ args: ParsedArguments) throws -> Int64 {
        let text = try args.positional("ID")[0]
        guard let id = Int64(text.hasPrefix("#") ? String(text.dropFirst()) : text), id > 0 else {
            throw UsageError("not an access request number: \(text)")
        }
        return id
    }

    /// One line per notification: who got mail, who has no address, what failed.
    static func mailLines(_ notices: [MailNotice]) -> String {
        notices.map { n in
            let who = n.user ?? "nobody"
            switch n.result {
            case "sent": return "  mailed \(who) <\(n.address ?? "")> (\(n.about))"
            case "no_email": return "  not mailed: \(n.user.map { "\($0) has no e-mail address" } ?? (n.error ?? "no recipient")) (\(n.about))"
            case "mail_off": return "  not mailed: mail is off (\(n.about))"
            default: return "  MAIL FAILED for \(who): \(n.error ?? "unknown error") (\(n.about))"
            }
        }.joined(separator: "\n")
    }

    static func describe(_ row: AccessRequestRow) -> String {
        """
        access request #\(row.id)
          user        \(row.user)
          resource    \(row.resource)
          status      \(row.status)
          note        \(row.note ?? "-")
          asked       \(Time.iso(row.createdAt))
          decided     \(row.decidedAt.map(Time.iso) ?? "-")\(row.decidedBy.map { " by \($0)" } ?? "")
          key         \(row.keyId ?? "-")
          expires     \(row.keyId == nil ? "-" : Time.iso(row.expiresAt))
        """
    }
}

/// `keyward notify-expiring --within 7d`: for cron or a systemd timer.
enum NotifyExpiringCommand {
    static let spec = CommandSpec(
        usage: "notify-expiring --within 7d [--sendmail PATH]",
        summary: """
            Mail the owner of every active key that expires within the window, once per key and expiry (renewing a key makes it due
            again). Users without an e-mail address are listed and skipped. Exit 1 when a mail could not be sent.
            """,
        options: [.init("within", value: "DURATION", "how far ahead to look: 12h, 7d, ..."), AccessRequestCommands.sendmail])

    struct Result: Encodable {
        let sent: Int
        let mail: [MailNotice]
    }

    static func run(_ words: ArraySlice<String>, _ context: Context) throws -> Int32 {
        guard let args = try CLI.parse(words, spec) else { return 0 }
        _ = try args.positional()
        guard let text = args.value("within") else { throw UsageError("--within is required") }
        guard case .seconds(let window)? = Lifetime(text) else { throw UsageError("invalid --within \(text): want 12h, 7d, ...") }
        let admin = try AccessRequestCommands.admin(context, args)
        let sent = try admin.notifyExpiring(within: window)
        try context.emit(Result(sent: sent, mail: admin.notices)) {
            "\(sent) expiry notice\(sent == 1 ? "" : "s") sent" + (admin.notices.isEmpty ? "" : "\n" + AccessRequestCommands.mailLines(admin.notices))
        }
        let failed = admin.notices.filter { $0.result == "failed" }.count
        if failed > 0 {
            FileHandle.standardError.write(Data("keyward: \(failed) expiry notice\(failed == 1 ? "" : "s") could not be sent\n".utf8))
            return 1
        }
        return 0
    }
}
