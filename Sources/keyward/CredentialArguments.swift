import KeywardCore

/// The arguments every credential kind (API keys, OAuth2 clients) takes the same way.
enum CredentialArguments {
    /// `--user` and `--name`, both required; names are 1 to 100 printable characters.
    static func ownerAndName(_ args: ParsedArguments) throws -> (user: String, name: String) {
        guard let user = args.value("user") else { throw UsageError("--user is required") }
        guard let name = args.value("name") else { throw UsageError("--name is required") }
        guard (1...100).contains(name.count), name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
        else { throw UsageError("--name must be 1 to 100 printable characters") }
        return (user, name)
    }

    /// Every `--scope`, parsed.
    static func scopes(_ args: ParsedArguments) throws -> [PathScope] {
        try args.all("scope").map { text in
            guard let scope = PathScope(text) else { throw UsageError("invalid scope \(text): want /prefix or METHOD,...:/prefix") }
            return scope
        }
    }

    /// `--expires`, `--scope` and `--allow-ip`, as every credential kind's `create` takes them.
    static func limitOptions(defaultExpiry: String) -> [CommandSpec.Option] {
        [
            .init("expires", value: "DURATION", "45s, 30m, 12h, 30d or never (default \(defaultExpiry))"),
            .init(
                "scope", value: "[METHODS:]PREFIX", repeatable: true, "allowed path prefix, e.g. /api/ or GET,HEAD:/api/ro/ (default: every path)"),
            .init("allow-ip", value: "CIDR", repeatable: true, "allowed client network, IPv4 or IPv6 (default: any)"),
        ]
    }

    /// Every `--allow-ip`, parsed: IPv4 or IPv6 CIDR ranges or single addresses.
    static func networks(_ args: ParsedArguments) throws -> [CIDR] {
        try args.all("allow-ip").map { text in
            guard let cidr = CIDR(text) else { throw UsageError("invalid --allow-ip \(text): want a CIDR such as 10.0.0.0/8 or 2001:db8::/32") }
            return cidr
        }
    }

    /// A duration option, or `fallback` when it is absent.
    static func lifetime(_ text: String?, default fallback: Lifetime) throws -> Lifetime {
        guard let text else { return fallback }
        guard let lifetime = Lifetime(text) else { throw UsageError("invalid duration \(text): want 45s, 30m, 12h, 30d or never") }
        return lifetime
    }

    /// The one positional credential id of `kind`. A pasted secret is refused without being echoed.
    static func id(_ args: ParsedArguments, kind: SecretKind) throws -> String {
        try id(try args.positional(kind == .clientSecret ? "CLIENT_ID" : "ID")[0], kind: kind)
    }

    /// `id`, when it is a credential id of `kind`; a pasted secret is refused without being echoed.
    static func id(_ id: String, kind: SecretKind) throws -> String {
        let what = kind == .clientSecret ? "client id" : kind == .signedRequest ? "credential id" : "key id"
        if let secret = OpaqueSecret(parsing: Substring(id)) {
            throw UsageError("that is a secret, not a \(what); the id is \(secret.id)")
        }
        guard OpaqueSecret.isCredentialId(id, kind: kind) else {
            throw UsageError("not a \(what) (\(kind.rawValue)_ followed by 16 letters and digits)")
        }
        return id
    }
}
