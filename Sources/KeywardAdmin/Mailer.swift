import Dispatch
import Foundation
import KeywardCrypto

/// How notifications are mailed: through sendmail(8), from which address, and with which links.
///
/// Read from `--sendmail PATH` and the config file keys `sendmail`, `mail_from`, `public_url` and
/// `mail_secret_inline` (see `init(config:sendmail:)`).
public struct MailSettings: Sendable, Equatable {
    /// The default command; any sendmail-compatible MTA (Postfix, Exim, msmtp, OpenSMTPD) has it.
    public static let defaultSendmail = "/usr/sbin/sendmail -t -i"

    /// The program (an absolute path) and its arguments. `-t` (recipients from the headers) and `-i`
    /// (a lone `.` does not end the message) are always among them.
    public var command: [String]
    /// The `From` address.
    public var from: String
    /// Where `/admin/...` is reachable from a mail reader, without a trailing `/`, e.g.
    /// `https://api.example.com/keyward`; reveal links need it.
    public var publicURL: String?
    /// Mail a new key's secret itself instead of a one-time link (CentraSite's behaviour).
    public var secretInline: Bool
    /// How long sendmail may take before it is stopped and the mail counts as failed.
    public var timeoutSeconds: Int

    /// Validated settings. `sendmail` is a command line split at spaces (default
    /// `/usr/sbin/sendmail -t -i`); `from` defaults to `keyward@<hostname>`; `publicURL` must be
    /// `http://` or `https://`. Throws `invalid_argument` naming the bad setting.
    public init(
        sendmail: String? = nil, from: String? = nil, publicURL: String? = nil, secretInline: Bool = false,
        timeoutSeconds: Int = 30
    ) throws {
        let words = (sendmail ?? Self.defaultSendmail).split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard let program = words.first, program.hasPrefix("/"),
            words.allSatisfy({ $0.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F } })
        else { throw AdminError.invalid("sendmail must be an absolute path, optionally followed by arguments") }
        command = words + ["-t", "-i"].filter { !words.dropFirst().contains($0) }
        if let from {
            try Mailer.checkAddress(from)
            self.from = from
        } else {
            self.from = Self.defaultFrom()
        }
        if var url = publicURL {
            while url.hasSuffix("/") { url.removeLast() }
            guard url.hasPrefix("https://") || url.hasPrefix("http://"), url.count > 8, url.count <= 1_000,
                url.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && !"\"<>\\^`{|}".unicodeScalars.contains($0) })
            else { throw AdminError.invalid("public_url must be an http:// or https:// URL without spaces or quotes") }
            self.publicURL = url
        } else {
            self.publicURL = nil
        }
        guard timeoutSeconds > 0 else { throw AdminError.invalid("the sendmail timeout must be positive") }
        self.secretInline = secretInline
        self.timeoutSeconds = timeoutSeconds
    }

    /// Settings from a config file's keys (`sendmail`, `mail_from`, `public_url`,
    /// `mail_secret_inline` = true/false), with `--sendmail PATH` winning over the file.
    public init(config: [String: String], sendmail: String? = nil) throws {
        var inline = false
        if let text = config["mail_secret_inline"] {
            switch text.lowercased() {
            case "true", "yes", "on", "1": inline = true
            case "false", "no", "off", "0": inline = false
            default: throw AdminError.invalid("mail_secret_inline must be true or false")
            }
        }
        try self.init(
            sendmail: sendmail ?? config["sendmail"], from: config["mail_from"], publicURL: config["public_url"],
            secretInline: inline)
    }

    /// The one-time link for a reveal token, nil without a public URL.
    public func revealURL(_ token: String) -> String? {
        publicURL.map { "\($0)/admin/reveal/\(token)" }
    }

    static func defaultFrom() -> String {
        let host = ProcessInfo.processInfo.hostName
        let candidate = "keyward@" + (host.isEmpty ? "localhost" : host)
        return (try? Mailer.checkAddress(candidate)) != nil ? candidate : "keyward@localhost"
    }
}

/// One plain-text notification.
public struct MailMessage: Sendable, Equatable {
    /// One address (validated before sending).
    public var to: String
    /// One line; control characters become spaces, non-ASCII is RFC 2047 encoded.
    public var subject: String
    /// Plain text, UTF-8.
    public var body: String

    /// A message from its parts.
    public init(to: String, subject: String, body: String) {
        self.to = to
        self.subject = subject
        self.body = body
    }
}

/// Sends notifications through sendmail(8): `sendmail -t -i` reads an RFC 5322 message on its
/// standard input and takes the recipients from its `To` header.
public struct Mailer: Sendable {
    /// Command, sender and timeout.
    public let settings: MailSettings

    /// A mailer using `settings`.
    public init(settings: MailSettings) {
        self.settings = settings
    }

    /// The RFC 5322 message for `message`, dated `now` (Unix seconds). Throws `invalid_argument`
    /// for a recipient that is not one plain address: no header can be injected through it, and
    /// control characters in the subject are flattened to spaces.
    public func render(_ message: MailMessage, now: Int64) throws -> [UInt8] {
        try Self.checkAddress(message.to)
        let domain = settings.from.split(separator: "@").last.map(String.init) ?? "localhost"
        let headers = [
            ("From", "Keyward <\(settings.from)>"),
            ("To", message.to),
            ("Subject", Self.encodedSubject(message.subject)),
            ("Date", Self.date(now)),
            ("Message-ID", "<\(now).\(Base62.random(count: 20))@\(domain)>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", "8bit"),
            ("Auto-Submitted", "auto-generated"),
        ]
        var text = headers.map { "\($0.0): \(Self.headerValue($0.1))\n" }.joined() + "\n"
        // Bare CRs out of the body; sendmail turns each LF into the wire's CRLF itself.
        let lines = message.body.replacingOccurrences(of: "\r", with: "").split(separator: "\n", omittingEmptySubsequences: false)
        text += lines.flatMap(Self.wrapped).joined(separator: "\n")
        if !text.hasSuffix("\n") { text += "\n" }
        return Array(text.utf8)
    }

    /// RFC 5322 §2.1.1: a line is at most 998 octets; longer ones are broken between characters.
    static func wrapped(_ line: Substring) -> [String] {
        guard line.utf8.count > 998 else { return [String(line)] }
        var out: [String] = []
        var current = ""
        for character in line {
            if current.utf8.count + character.utf8.count > 998 {
                out.append(current)
                current = ""
            }
            current.append(character)
        }
        out.append(current)
        return out
    }

    /// Runs sendmail with the message on its standard input. Throws `invalid_argument` for a bad
    /// recipient, `mail_failed` when sendmail is missing, fails, is killed or times out. Errors never
    /// carry the message (it may hold a secret).
    public func send(_ message: MailMessage, now: Int64) throws {
        let bytes = try render(message, now: now)
        let program = settings.command[0]
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw Self.failure("sendmail \(program) is missing or not executable; set --sendmail or `sendmail` in the config file")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = Array(settings.command.dropFirst())
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        BrokenPipe.ignored
        do {
            try process.run()
        } catch {
            throw Self.failure("cannot run sendmail \(program): \(error.localizedDescription)")
        }
        // EPIPE when sendmail exits without reading: its exit status says more, below.
        let written = (try? input.fileHandleForWriting.write(contentsOf: bytes)) != nil
        try? input.fileHandleForWriting.close()
        if exited.wait(timeout: .now() + .seconds(settings.timeoutSeconds)) == .timedOut {
            process.terminate()
            _ = exited.wait(timeout: .now() + .seconds(5))
            throw Self.failure("sendmail \(program) did not finish within \(settings.timeoutSeconds) s and was stopped")
        }
        guard process.terminationReason == .exit else {
            throw Self.failure("sendmail \(program) was killed by signal \(process.terminationStatus)")
        }
        guard process.terminationStatus == 0 else {
            throw Self.failure("sendmail \(program) exited with status \(process.terminationStatus)")
        }
        guard written else { throw Self.failure("sendmail \(program) did not read the message") }
    }

    /// An address fit for a header as it is: `Admin.checkEmail`, and none of the characters that
    /// make comments, groups, routes or quoted parts (RFC 5322 §3.4), so it names one mailbox.
    static func checkAddress(_ address: String) throws {
        try Admin.checkEmail(address)
        guard !address.unicodeScalars.contains(where: { "<>()[]:;\"\\".unicodeScalars.contains($0) }) else {
            throw AdminError.invalid("invalid e-mail address")
        }
    }

    static func failure(_ message: String) -> AdminError {
        AdminError(.mailFailed, message)
    }

    /// One header line's value: every control character (CR and LF above all) becomes a space.
    static func headerValue(_ value: String) -> String {
        String(
            String.UnicodeScalarView(
                value.unicodeScalars.map { scalar -> Unicode.Scalar in
                    switch scalar.value {
                    case 0..<0x20, 0x7F..<0xA0, 0x2028, 0x2029: " "
                    default: scalar
                    }
                }))
    }

    /// ASCII subjects as they are; others as RFC 2047 `=?UTF-8?B?...?=` words of at most 75 characters.
    static func encodedSubject(_ subject: String) -> String {
        let flat = headerValue(subject)
        if flat.unicodeScalars.allSatisfy({ $0.isASCII }) { return flat }
        var words: [String] = []
        var chunk: [UInt8] = []
        for character in flat {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append("=?UTF-8?B?\(Base64.encode(chunk))?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Base64.encode(chunk))?=") }
        return words.joined(separator: " ")
    }

    /// RFC 5322 §3.3 date-time in UTC.
    static func date(_ unix: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(unix)))
    }
}
