import Foundation
import KeywardCore
import KeywardStore

/// The `keyward` command line: global options, then a command and its words.
enum CLI {
    static let topHelp = """
        usage: keyward [--db PATH] [--config PATH] [--json] COMMAND ...

        API-token authentication for nginx, Apache and lighttpd.

        commands:
          init                         create the database, key file and first signing key (idempotent)
          serve                        run the FastCGI server
          user add|list|show|email|disable|enable|delete|passwd
          group add|list|show|delete, group member add|remove
          role add|list|show|delete|grant|revoke
                                       roles carry privileges: admin, manage-own-keys, use-api-key, access:RESOURCE
          resource add|list|show|update|delete
                                       protected path prefixes: anonymous, audience, owner, methods, networks
          key create|list|show|disable|enable|renew|regenerate|roll|delete
          key roll ID --grace 24h      a second secret; the old one works until the grace ends
          client create|list|show|disable|enable|regenerate|delete
          service create|list|show|delete, service credential add|discard|reactivate|delete|reveal
                                       service keys (kws_) and JWT secrets for the service's own HS256 JWTs
          hmac create|list|show|disable|enable|renew|delete
                                       credentials for signed requests (kwh_): hmac-sha256 secrets, ed25519 public keys
          signature explain            the RFC 9421 signature base Keyward computes for a request
          signing-key list|rotate
          access request|list|show|approve|reject
                                       consumers ask for a resource; its owner or an admin approves (a key, mailed) or rejects
          notify-expiring --within 7d  mail the owners of keys about to expire (sendmail)
          audit list|export|verify
          explain                      why a request would be allowed or denied (exit 0 allowed, 1 denied)

        `keyward COMMAND --help` tells more. Exit status: 0 ok, 1 refused, 2 bad usage.
        """

    /// Runs the command line and returns the exit status.
    static func main(_ arguments: [String]) -> Int32 {
        do {
            var args = ArraySlice(arguments.dropFirst())
            var db = ProcessInfo.processInfo.environment["KEYWARD_DB"]
            var configPath = ProcessInfo.processInfo.environment["KEYWARD_CONFIG"]
            var json = false
            // Global options may stand anywhere; take them out first.
            var rest: [String] = []
            while let arg = args.popFirst() {
                switch arg {
                case "--json": json = true
                case "--db", "--config":
                    guard let v = args.popFirst() else { throw UsageError("\(arg) needs a value") }
                    if arg == "--db" { db = v } else { configPath = v }
                case let a where a.hasPrefix("--db="): db = String(a.dropFirst(5))
                case let a where a.hasPrefix("--config="): configPath = String(a.dropFirst(9))
                default: rest.append(arg)
                }
            }
            let config = try configPath.map { try Config(path: $0) } ?? Config()
            let dbPath = db ?? config["db"] ?? "/var/lib/keyward/keyward.db"
            let context = Context(
                dbPath: dbPath, keyFilePath: config["key_file"] ?? KeyFile.defaultPath(forDatabase: dbPath),
                json: json, config: config)
            guard let command = rest.first, command != "--help", command != "-h", command != "help" else {
                print(topHelp)
                return rest.isEmpty ? 2 : 0
            }
            let words = rest.dropFirst()
            switch command {
            case "init": try InitCommand.run(words, context)
            case "serve": return try ServeCommand.run(words, context)
            case "user": try UserCommands.run(words, context)
            case "key": try KeyCommands.run(words, context)
            case "group": try GroupCommands.run(words, context)
            case "role": try RoleCommands.run(words, context)
            case "resource": try ResourceCommands.run(words, context)
            case "explain": return try ExplainCommand.run(words, context)
            case "audit": try AuditCommands.run(words, context)
            case "client": try ClientCommands.run(words, context)
            case "service": try ServiceCommands.run(words, context)
            case "hmac": try HMACCommands.run(words, context)
            case "signature": return try SignatureCommands.run(words, context)
            case "signing-key": try SigningKeyCommands.run(words, context)
            case "access": try AccessRequestCommands.run(words, context)
            case "notify-expiring": return try NotifyExpiringCommand.run(words, context)
            default: throw UsageError("unknown command \(command)")
            }
            return 0
        } catch let e as UsageError {
            FileHandle.standardError.write(Data("keyward: \(PrintableText.escaped(e.description)) (see keyward --help)\n".utf8))
            return 2
        } catch {
            FileHandle.standardError.write(Data("keyward: \(PrintableText.escaped("\(error)"))\n".utf8))
            return 1
        }
    }

    /// Parses `words` against `spec`, printing help and stopping on `--help`.
    static func parse(_ words: ArraySlice<String>, _ spec: CommandSpec) throws -> ParsedArguments? {
        if words.contains("--help") || words.contains("-h") {
            print(spec.help)
            return nil
        }
        return try ParsedArguments(words, spec: spec)
    }

    /// Splits `group verb args`, listing the verbs on a missing or unknown one.
    static func verb(_ words: ArraySlice<String>, group: String, verbs: [String: CommandSpec]) throws
        -> (String, ArraySlice<String>, CommandSpec)?
    {
        let list = verbs.keys.sorted().joined(separator: "|")
        guard let verb = words.first, verb != "--help", verb != "-h" else {
            if words.first == nil { throw UsageError("usage: keyward \(group) \(list)") }
            print("usage: keyward \(group) \(list) ...\n")
            for name in verbs.keys.sorted() { print("  \(verbs[name]!.usage)") }
            return nil
        }
        guard let spec = verbs[verb] else { throw UsageError("unknown command \(group) \(verb); one of \(list)") }
        return (verb, words.dropFirst(), spec)
    }
}

/// `keyward init`.
enum InitCommand {
    static let spec = CommandSpec(
        usage: "init", summary: "Create the database, its key file (mode 0600) and the first signing key (ES256), or check existing ones.")

    static func run(_ words: ArraySlice<String>, _ context: Context) throws {
        guard let args = try CLI.parse(words, spec) else { return }
        _ = try args.positional()
        let directory = (context.dbPath as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        let keyFileExisted = FileManager.default.fileExists(atPath: context.keyFilePath)
        if keyFileExisted {
            try KeyFile.makePrivate(path: context.keyFilePath)
            _ = try context.loadKeys()
        } else {
            var hasData = false
            if FileManager.default.fileExists(atPath: context.dbPath) {
                hasData = try !Store(path: context.dbPath).users().isEmpty
            }
            guard !hasData else {
                throw Refusal("database \(context.dbPath) has data but its key file \(context.keyFilePath) is missing")
            }
            _ = try KeyFile.create(path: context.keyFilePath)
        }
        let applied = try Store.initialize(path: context.dbPath)
        let admin = try context.admin()
        if applied > 0 || !keyFileExisted { try admin.audit("init", detail: "schema migrations applied: \(applied)") }
        if try admin.signingKeys().isEmpty {
            try admin.rotateSigningKey(.standard, retireOthersAfter: 0)
        }
        try context.emit([
            "database": context.dbPath, "key_file": context.keyFilePath,
            "migrations_applied": String(applied), "key_file_created": String(!keyFileExisted),
        ]) {
            "database \(context.dbPath) ready (\(applied) migration\(applied == 1 ? "" : "s") applied)\n"
                + "key file \(context.keyFilePath) \(keyFileExisted ? "present" : "created")"
        }
    }
}
