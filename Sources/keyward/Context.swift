import Foundation
import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardStore

/// What every command shares: global options, configuration, clock, output.
struct Context {
    var dbPath: String
    var keyFilePath: String
    var json: Bool
    var config: Config
    let clock: any Clock = SystemClock()

    /// The login running the command: `sudo`'s caller when there is one.
    var login: String { ProcessInfo.processInfo.environment["SUDO_USER"] ?? NSUserName() }

    /// Who is acting, for the audit trail of CLI changes.
    var actor: String { Actor.commandLine(login).auditName }

    /// The admin operations the admin API shares, run as the command line (`cli:<login>`).
    func admin() throws -> Admin {
        Admin(store: try openStore(), keyFile: try loadKeys(), clock: clock, actor: .commandLine(login), limits: try limits())
    }

    /// The bounds and defaults the configuration file sets, for every command but `serve`, which
    /// lets its options override them.
    func limits() throws -> Limits { try Limits.configured { config[$0] } }

    /// The store, refused while the database's files or the key file are open to other users
    /// (they hold every password and key hash, and the keys to them): `keyward init` takes their
    /// permissions off.
    func openStore() throws -> Store {
        guard FileManager.default.fileExists(atPath: dbPath) else {
            throw Refusal("no database at \(dbPath); run: keyward --db \(dbPath) init")
        }
        try DatabaseFile.requirePrivate(dbPath)
        try KeyFile.requirePrivate(path: keyFilePath)
        return try Store(path: dbPath)
    }

    func loadKeys() throws -> KeyFile { try KeyFile.load(path: keyFilePath) }

    /// Prints `value` as JSON when `--json` was given (`JSONOutput`: the JSON writer escapes every
    /// control and format character), else `text()` with them escaped (names, paths and old rows
    /// may carry them).
    func emit<T: Encodable>(_ value: T, text: () -> String) throws {
        if json {
            print(try JSONOutput.pretty(value))
        } else {
            let t = text()
            if !t.isEmpty { print(PrintableText.escaped(t, keepingNewlines: true)) }
        }
    }
}

/// A JSON key in snake case: `createdAt` -> `created_at`, `lastUsedIP` -> `last_used_ip`, and
/// `allowIPs` -> `allow_ips` (Foundation's `convertToSnakeCase` makes that `allow_i_ps`).
struct SnakeKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }

    init(_ key: String) {
        let chars = Array(key.replacingOccurrences(of: "IPs", with: "Ips"))
        var out = ""
        for (i, c) in chars.enumerated() {
            guard c.isUppercase else {
                out.append(c)
                continue
            }
            let afterLower = i > 0 && (chars[i - 1].isLowercase || chars[i - 1].isNumber)
            let wordStart = i > 0 && chars[i - 1].isUppercase && i + 1 < chars.count && chars[i + 1].isLowercase
            if afterLower || wordStart { out += "_" }
            out += c.lowercased()
        }
        stringValue = out
    }

    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { nil }
}

/// `key = value` lines; `#` starts a comment. Keys are the long option names of `serve` and `db`.
struct Config {
    var values: [String: String] = [:]

    init() {}

    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw Refusal("cannot read config file \(path)")
        }
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            guard let eq = line.firstIndex(of: "=") else { throw UsageError("\(path):\(number + 1): expected key = value") }
            values[line[..<eq].trimmingCharacters(in: .whitespaces)] = line[line.index(after: eq)...]
                .trimmingCharacters(in: .whitespaces)
        }
    }

    subscript(_ key: String) -> String? { values[key] }
}

enum Time {
    static func iso(_ t: Int64?) -> String {
        guard let t else { return "never" }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: Date(timeIntervalSince1970: TimeInterval(t)))
    }

    /// `1h` (ago), a Unix time, or an ISO 8601 instant.
    static func parseSince(_ text: String, now: Int64) -> Int64? {
        if case .seconds(let s)? = Lifetime(text) { return now - s }
        if let t = Int64(text) { return t }
        return ISO8601DateFormatter().date(from: text).map { Int64($0.timeIntervalSince1970) }
    }
}
