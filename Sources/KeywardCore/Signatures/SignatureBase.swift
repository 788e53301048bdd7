/// What a signature base is made of: the request's method, target and fields.
public protocol SignedMessage {
    /// The method as sent (`POST`).
    var method: String { get }
    /// The target, scheme and authority.
    var target: RequestTarget { get }
    /// The value of field `name` (any case); nil when absent, a lone NUL when sent twice.
    func header(_ name: String) -> String?
}

extension CheckRequest: SignedMessage {}

/// The signature base (RFC 9421 §2.5): one line per covered component, `"name": value`, then
/// the `@signature-params` line, without a final newline.
public enum SignatureBase {
    /// The base for `input` over `message`, as bytes to sign or verify.
    public static func build(_ input: SignatureInput, message: some SignedMessage) throws(SignatureProblem) -> [UInt8] {
        var base: [UInt8] = []
        base.reserveCapacity(256)
        // The target is read and split once, however many derived components cover it.
        var target: RequestTargetParts? = nil
        for component in input.components {
            base += component.serialized.utf8
            base += ": ".utf8
            if component.isDerived {
                if target == nil { target = try RequestTargetParts(message.target) }
                base += try derived(component, target: target!, method: message.method).utf8
            } else {
                base += try field(component.name, in: message).utf8
            }
            base.append(UInt8(ascii: "\n"))
        }
        base += "\"@signature-params\": ".utf8
        base += input.signatureParams.utf8
        return base
    }

    /// The value a component has in `message` (RFC 9421 §2.1, §2.2).
    public static func value(of component: ComponentIdentifier, in message: some SignedMessage) throws(SignatureProblem) -> String {
        guard component.isDerived else { return try field(component.name, in: message) }
        return try derived(component, target: RequestTargetParts(message.target), method: message.method)
    }

    static func derived(_ component: ComponentIdentifier, target: RequestTargetParts, method: String) throws(SignatureProblem) -> String {
        switch component.name {
        case "@method":
            guard !method.isEmpty, method.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw .unresolvable("the method cannot be read")
            }
            return method
        case "@target-uri": return try target.targetURI()
        case "@authority": return try target.normalizedAuthority()
        case "@scheme": return try target.requireScheme()
        case "@request-target": return target.raw
        case "@path": return target.path
        case "@query": return "?" + (target.query ?? "")
        default: throw .malformed("derived component \(component.name) is not supported")
        }
    }

    /// A field's value: leading and trailing whitespace removed (RFC 9421 §2.1). A field sent
    /// twice, one with control characters or one that is not UTF-8 cannot be put in a base
    /// unambiguously: it is refused.
    static func field(_ name: String, in message: some SignedMessage) throws(SignatureProblem) -> String {
        guard let raw = message.header(name) else { throw .unresolvable("the request has no \(name) field") }
        let value = raw.trimmed
        guard value.unicodeScalars.allSatisfy({ $0 == "\t" || ($0.value >= 0x20 && $0.value != 0x7F) }) else {
            throw .unresolvable("the \(name) field is repeated or cannot be read")
        }
        return String(value)
    }
}

/// The parts of a request target the derived components are made of.
struct RequestTargetParts {
    /// The target as sent.
    let raw: String
    /// `@path`: the absolute path, `/` when empty.
    let path: String
    /// The query without its `?`; nil when there is none.
    let query: String?
    /// The scheme, from an absolute-form target or the server.
    let scheme: String?
    /// The authority, from an absolute-form target or the `Host` field.
    let authority: String?
    /// Splits `target.raw`: origin form (`/path?query`) or absolute form (RFC 9112 §3.2.1-2).
    init(_ target: RequestTarget) throws(SignatureProblem) {
        guard let raw = target.raw, !raw.isEmpty,
            raw.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { throw .unresolvable("the request target cannot be read") }
        self.raw = raw
        var rest = Substring(raw)
        var scheme = target.scheme?.lowercased()
        var authority = target.authority
        let lower = raw.prefix(8).lowercased()
        if let schemeLength = lower.hasPrefix("https://") ? 5 : lower.hasPrefix("http://") ? 4 : nil {
            scheme = String(lower.prefix(schemeLength))
            let afterScheme = raw.dropFirst(schemeLength + 3)
            let end = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
            authority = String(afterScheme[..<end])
            rest = afterScheme[end...]
        } else if !raw.hasPrefix("/") {
            throw .unresolvable("the request target is neither in origin nor in absolute form")
        }
        if let mark = rest.firstIndex(of: "?") {
            path = rest[..<mark].isEmpty ? "/" : String(rest[..<mark])
            query = String(rest[rest.index(after: mark)...])
        } else {
            path = rest.isEmpty ? "/" : String(rest)
            query = nil
        }
        self.scheme = scheme
        self.authority = authority.flatMap { $0.isEmpty || $0.utf8.contains(0) ? nil : $0 }
    }

    func requireScheme() throws(SignatureProblem) -> String {
        guard let scheme, scheme == "http" || scheme == "https" else { throw .unresolvable("the scheme is not known") }
        return scheme
    }

    func requireAuthority() throws(SignatureProblem) -> String {
        guard let authority, authority.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .unresolvable("the authority (Host) is not known")
        }
        return authority
    }

    /// `@target-uri` (RFC 9421 §2.2.2): the absolute target URI (RFC 9110 §7.1), as sent.
    func targetURI() throws(SignatureProblem) -> String {
        try requireScheme() + "://" + requireAuthority() + path + (query.map { "?" + $0 } ?? "")
    }

    /// `@authority` (RFC 9421 §2.2.3): lower case, without the scheme's default port (RFC 9110 §4.2.3).
    func normalizedAuthority() throws(SignatureProblem) -> String {
        let authority = try requireAuthority().lowercased()
        let defaultPort = try requireScheme() == "https" ? ":443" : ":80"
        if authority.hasSuffix(defaultPort) {
            return String(authority.dropLast(defaultPort.count))
        }
        return authority
    }
}
