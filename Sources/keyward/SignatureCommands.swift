import Foundation
import KeywardCore
import KeywardCrypto

/// `keyward signature explain`: the RFC 9421 signature base Keyward computes for a request, and
/// what its check would say about the signature short of the key, so a client whose signature
/// "does not match" can compare bases byte for byte. Needs no database and no key.
enum SignatureCommands {
    static let verbs: [String: CommandSpec] = [
        "explain": CommandSpec(
            usage: "signature explain (--request-stdin [--scheme https] | --url URL [--method M] [--header 'Name: value' ...] [--body-file F])",
            summary: """
                Print, for each signature in the request's Signature-Input, the signature base Keyward builds (exactly, between
                marker lines), and what the check would refuse before looking at the key: malformed fields, components it requires
                (@method, @target-uri or @path and @query, content-digest when there is content), created outside the window,
                a Content-Digest that does not match the body. Exit 0 when nothing is wrong, 1 otherwise.
                The request comes as raw HTTP/1.1 on standard input (request line, fields, blank line, body) or from the options.
                """,
            options: [
                .init("request-stdin", "read the raw request from standard input"),
                .init("scheme", value: "SCHEME", "with --request-stdin: https (default) or http; the authority is the Host field"),
                .init("url", value: "URL", "the target URI: scheme, authority (the Host), path and query"),
                .init("method", value: "M", "with --url (default GET)"),
                .init("header", value: "'Name: value'", repeatable: true, "with --url: a field (Signature-Input, Signature, ...)"),
                .init("body-file", value: "F", "with --url: the body, read from a file"),
                .init("now", value: "UNIX", "judge created/expires at this time (default: now)"),
                .init("skew", value: "DURATION", "the created window either way (default 300s, the server's --signature-window)"),
            ])
    ]

    static func run(_ words: ArraySlice<String>, _ context: Context) throws -> Int32 {
        guard let (_, rest, spec) = try CLI.verb(words, group: "signature", verbs: verbs), let args = try CLI.parse(rest, spec) else {
            return 0
        }
        _ = try args.positional()
        let message = try ExplainedRequest.from(args)
        var limits = try context.limits()
        if let text = args.value("skew") {
            guard case .seconds(let s)? = Lifetime(text) else { throw UsageError("invalid --skew \(text)") }
            limits.signatureSkewSeconds = s
        }
        let now =
            try args.value("now").map { text in
                guard let t = Int64(text) else { throw UsageError("invalid --now \(text)") }
                return t
            } ?? context.clock.now
        let report = explain(message, limits: limits, now: now)
        try context.emit(report) { report.text }
        return report.ok ? 0 : 1
    }

    /// What explain found, per signature.
    struct Report: Encodable {
        struct Signature: Encodable {
            let label: String
            let keyid: String?
            let alg: String?
            let created: Int64?
            let expires: Int64?
            let nonce: String?
            let keywardCredential: Bool
            let signatureBase: String?
            let problems: [String]
        }
        var signatures: [Signature] = []
        var problems: [String] = []
        var ok: Bool { problems.isEmpty && signatures.allSatisfy { $0.problems.isEmpty || !$0.keywardCredential } }

        var text: String {
            var lines = problems.map { "problem: \($0)" }
            for s in signatures {
                lines.append(
                    "signature \(s.label): keyid \(s.keyid.map { "\"\($0)\"" } ?? "(none)")"
                        + (s.keywardCredential ? "" : " (not a Keyward credential: the check leaves it alone)")
                        + (s.alg.map { ", alg \($0)" } ?? "") + (s.created.map { ", created \($0) (\(Time.iso($0)))" } ?? "")
                        + (s.expires.map { ", expires \($0)" } ?? "") + (s.nonce.map { ", nonce \"\($0)\"" } ?? ""))
                if let base = s.signatureBase {
                    lines.append("----- signature base (\(base.utf8.count) bytes, no final newline) -----")
                    lines.append(base)
                    lines.append("----- end of signature base -----")
                }
                lines += s.problems.map { "  problem: \($0)" }
                if s.problems.isEmpty && s.keywardCredential {
                    lines.append("  no problem found short of the key: a mismatch now means another base or another secret")
                }
            }
            return lines.joined(separator: "\n")
        }
    }

    static func explain(_ message: ExplainedRequest, limits: Limits, now: Int64) -> Report {
        var report = Report()
        let request = message.checkRequest
        guard let field = request.header("Signature-Input") else {
            report.problems.append("the request has no Signature-Input field")
            return report
        }
        let inputs: [SignatureInput]
        do {
            inputs = try SignatureInput.parse(field)
        } catch {
            report.problems.append("Signature-Input: \(error)")
            return report
        }
        let ours = inputs.filter { $0.parameters.keyId.map(RequestKeyRecord.isId) ?? false }
        if ours.count > 1 { report.problems.append("more than one signature names a Keyward credential: the check refuses that") }
        for input in inputs {
            var problems: [String] = []
            var base: String? = nil
            do {
                base = String(decoding: try SignatureBase.build(input, message: request), as: UTF8.self)
            } catch {
                problems.append("no signature base: \(error)")
            }
            if let missing = HTTPSignatureAuthenticator.missingRequirement(input, request: request, limits: limits) {
                problems.append("\(missing)")
            }
            if input.parameters.created != nil, !HTTPSignatureAuthenticator.isFresh(input.parameters, now: now, skew: limits.signatureSkewSeconds) {
                problems.append("created/expires outside the window of ±\(limits.signatureSkewSeconds)s around \(now) (\(Time.iso(now)))")
            }
            if let field = request.header("Signature") {
                do {
                    _ = try SignatureInput.signature(input.label, in: field)
                } catch {
                    problems.append("\(error)")
                }
            } else {
                problems.append("the request has no Signature field")
            }
            if input.components.contains(where: { $0.name == "content-digest" }) {
                switch ContentDigest.check(request.header("Content-Digest") ?? "", body: message.body) {
                case .matches: break
                case .mismatch: problems.append("Content-Digest does not match the body; for this body: \(ContentDigest.field(for: message.body))")
                case .malformed(let why): problems.append("\(why); for this body: \(ContentDigest.field(for: message.body))")
                }
            }
            report.signatures.append(
                Report.Signature(
                    label: input.label, keyid: input.parameters.keyId, alg: input.parameters.algorithm, created: input.parameters.created,
                    expires: input.parameters.expires, nonce: input.parameters.nonce,
                    keywardCredential: input.parameters.keyId.map(RequestKeyRecord.isId) ?? false, signatureBase: base, problems: problems))
        }
        return report
    }
}

/// A request given to `signature explain`: raw HTTP on standard input, or the options.
struct ExplainedRequest {
    var method: String
    var target: RequestTarget
    /// Fields by lower-case name; field lines of one name combined with ", " (RFC 9110 §5.3).
    var headers: [String: String]
    var body: [UInt8]

    /// The request the options describe, or the one on standard input.
    static func from(_ args: ParsedArguments) throws -> ExplainedRequest {
        if args.flags.contains("request-stdin") {
            guard args.value("url") == nil, args.all("header").isEmpty, args.value("body-file") == nil, args.value("method") == nil else {
                throw UsageError("--request-stdin takes the whole request from standard input: no --url, --method, --header or --body-file")
            }
            return try ExplainedRequest(raw: Array(FileHandle.standardInput.readDataToEndOfFile()), scheme: args.value("scheme") ?? "https")
        }
        return try ExplainedRequest(options: args)
    }

    private init(options args: ParsedArguments) throws {
        guard let url = args.value("url") else { throw UsageError("give --request-stdin or --url") }
        guard let schemeEnd = url.range(of: "://") else { throw UsageError("--url must be absolute: https://host/path?query") }
        let scheme = String(url[..<schemeEnd.lowerBound]).lowercased()
        let afterScheme = url[schemeEnd.upperBound...]
        let pathStart = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
        var raw = String(afterScheme[pathStart...])
        if raw.isEmpty || raw.hasPrefix("?") { raw = "/" + raw }
        method = args.value("method") ?? "GET"
        target = RequestTarget(scheme: scheme, authority: String(afterScheme[..<pathStart]), raw: raw)
        headers = [:]
        for line in args.all("header") {
            guard let colon = line.firstIndex(of: ":") else { throw UsageError("--header wants 'Name: value', got \(line)") }
            Self.add(&headers, String(line[..<colon]), String(line[line.index(after: colon)...]))
        }
        body = try args.value("body-file").map { Array(try Data(contentsOf: URL(fileURLWithPath: $0))) } ?? []
    }

    /// A raw HTTP/1.1 request: request line, field lines, an empty line, then the body (as long as
    /// Content-Length says when it says, else the rest). Lines may end in CRLF or LF.
    init(raw: [UInt8], scheme: String) throws {
        var lines: [String] = []
        var i = 0
        var bodyStart = raw.count
        while i < raw.count {
            guard let newline = raw[i...].firstIndex(of: UInt8(ascii: "\n")) else {
                throw UsageError("the request on standard input has no empty line after its fields")
            }
            var line = raw[i..<newline]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            i = newline + 1
            if line.isEmpty {
                bodyStart = i
                break
            }
            lines.append(String(decoding: line, as: UTF8.self))
        }
        let requestLine = lines.first?.split(separator: " ", omittingEmptySubsequences: true) ?? []
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/") else {
            throw UsageError("the first line on standard input must be a request line: METHOD TARGET HTTP/1.1")
        }
        method = String(requestLine[0])
        headers = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { throw UsageError("not a field line: \(line)") }
            Self.add(&headers, String(line[..<colon]), String(line[line.index(after: colon)...]))
        }
        target = RequestTarget(scheme: scheme.lowercased(), authority: headers["host"], raw: String(requestLine[1]))
        var body = Array(raw[bodyStart...])
        if let length = headers["content-length"].flatMap({ Int($0) }), length < body.count { body = Array(body.prefix(length)) }
        self.body = body
    }

    private static func add(_ headers: inout [String: String], _ name: String, _ value: String) {
        let key = name.trimmingCharacters(in: .whitespaces).lowercased()
        let v = value.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
        headers[key] = headers[key].map { $0 + ", " + v } ?? v
    }

    /// The request as the check sees it, with its body.
    var checkRequest: CheckRequest {
        CheckRequest(
            method: method, path: .success(String(target.raw?.split(separator: "?").first ?? "/")), remoteAddress: nil,
            authorization: headers["authorization"], source: ExplainSource(headers: headers, bodyBytes: body, target: target))
    }
}

/// The explained request's fields and body, as the check reads them.
struct ExplainSource: RequestSource {
    let headers: [String: String]
    let bodyBytes: [UInt8]
    let target: RequestTarget
    func header(_ name: String) -> String? { headers[name.lowercased()] }
    func body(limit: Int) -> [UInt8]? { bodyBytes.count <= limit ? bodyBytes : nil }
}
