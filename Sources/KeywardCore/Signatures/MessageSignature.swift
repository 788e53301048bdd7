/// One signature of a request as its `Signature-Input` and `Signature` fields describe it (RFC 9421
/// §4.1, §4.2): the label, the covered components, the signature parameters and the signature.
///
/// Parsing is strict: a member that is not an inner list of strings, a component this verifier
/// cannot resolve, a component parameter (`sf`, `key`, `bs`, `req`, `tr`, `name`: none is
/// supported, so none is guessed at), a component named twice, an unknown signature parameter or
/// one of the wrong type all refuse the signature rather than have it verified some other way
/// than the signer meant.
public struct SignatureInput: Sendable, Equatable {
    /// The dictionary key both fields share (`sig1`).
    public var label: String
    /// The covered components, in order.
    public var components: [ComponentIdentifier]
    /// The signature parameters, as given.
    public var parameters: SignatureParameters
    /// The `@signature-params` value (RFC 9421 §2.3): the inner list serialised again (RFC 8941
    /// §4.1), which is how the signer must have written it into its signature base.
    public var signatureParams: String

    /// Every signature `Signature-Input` describes, in order (RFC 9421 §4.1).
    public static func parse(_ field: String) throws(SignatureProblem) -> [SignatureInput] {
        let members: [SFDictionaryMember]
        do {
            members = try StructuredFields.parseDictionary(field)
        } catch {
            throw .malformed("Signature-Input: \(error)")
        }
        guard !members.isEmpty else { throw .malformed("Signature-Input is empty") }
        return try members.map { member throws(SignatureProblem) in try SignatureInput(member) }
    }

    private init(_ member: SFDictionaryMember) throws(SignatureProblem) {
        guard case .innerList(let list) = member.value else {
            throw .malformed("Signature-Input member \(member.key) is not an inner list")
        }
        var components: [ComponentIdentifier] = []
        for item in list.items {
            guard case .string(let name) = item.value else {
                throw .malformed("Signature-Input member \(member.key) covers a component that is not a string")
            }
            let component = try ComponentIdentifier(name: name, parameters: item.parameters)
            guard !components.contains(component) else {
                throw .malformed("Signature-Input member \(member.key) covers \(component.serialized) twice")
            }
            components.append(component)
        }
        label = member.key
        self.components = components
        parameters = try SignatureParameters(list.parameters, label: member.key)
        signatureParams = list.serialized
    }

    /// The signature bytes for `label` in a `Signature` field (RFC 9421 §4.2): a byte sequence
    /// with no parameters.
    public static func signature(_ label: String, in field: String) throws(SignatureProblem) -> [UInt8] {
        let members: [SFDictionaryMember]
        do {
            members = try StructuredFields.parseDictionary(field)
        } catch {
            throw .malformed("Signature: \(error)")
        }
        guard let member = members.first(where: { $0.key == label }) else {
            throw .malformed("Signature has no member \(label)")
        }
        guard case .item(let item) = member.value, case .bytes(let bytes) = item.value, item.parameters.isEmpty else {
            throw .malformed("Signature member \(label) is not a byte sequence")
        }
        return bytes
    }
}

/// A covered component (RFC 9421 §2): an HTTP field by its lower-case name, or a derived
/// component (`@method`, ...).
public struct ComponentIdentifier: Sendable, Equatable, CustomStringConvertible {
    /// The derived components this verifier resolves (RFC 9421 §2.2); `@query-param`, `@status`
    /// and `@request-response` are not among them.
    public static let derived: Set<String> = [
        "@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query",
    ]

    /// `@method`, or a lower-case field name.
    public var name: String

    /// A component from the string in `Signature-Input`; throws for one this verifier cannot
    /// resolve exactly as the signer meant.
    public init(name: String, parameters: [SFParameter] = []) throws(SignatureProblem) {
        guard parameters.isEmpty else {
            throw .malformed("component \"\(name)\" has parameters (\(parameters.map(\.key).joined(separator: ", "))), which are not supported")
        }
        if name.hasPrefix("@") {
            guard Self.derived.contains(name) else { throw .malformed("derived component \(name) is not supported") }
        } else {
            // RFC 9421 §2.1: field names are lower-cased tokens (RFC 9110 §5.1).
            guard !name.isEmpty, name.utf8.allSatisfy({ Self.isFieldNameCharacter($0) }) else {
                throw .malformed("component \"\(name)\" is not a lower-case field name")
            }
        }
        self.name = name
    }

    /// True for `@...` components.
    public var isDerived: Bool { name.hasPrefix("@") }

    /// The identifier as it stands in the signature base: an sf-string (RFC 9421 §2.5).
    public var serialized: String { "\"\(name)\"" }

    public var description: String { serialized }

    private static func isFieldNameCharacter(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default: false
        }
    }
}

/// The signature parameters (RFC 9421 §2.3) a signature carries.
public struct SignatureParameters: Sendable, Equatable {
    /// `created`: Unix seconds when the signature was made.
    public var created: Int64?
    /// `expires`: Unix seconds after which it is no longer valid.
    public var expires: Int64?
    /// `nonce`: a value the signer never repeats.
    public var nonce: String?
    /// `alg`: the algorithm the signer claims (RFC 9421 §6.2).
    public var algorithm: String?
    /// `keyid`: the key, here a Keyward credential id.
    public var keyId: String?
    /// `tag`: an application-specific tag.
    public var tag: String?

    /// The parameters of an inner list; unknown ones and ones of the wrong type are refused.
    init(_ parameters: [SFParameter], label: String) throws(SignatureProblem) {
        for p in parameters {
            switch (p.key, p.value) {
            case ("created", .integer(let n)) where n >= 0: created = n
            case ("expires", .integer(let n)) where n >= 0: expires = n
            case ("nonce", .string(let s)): nonce = s
            case ("alg", .string(let s)): algorithm = s
            case ("keyid", .string(let s)): keyId = s
            case ("tag", .string(let s)): tag = s
            case ("created", _), ("expires", _), ("nonce", _), ("alg", _), ("keyid", _), ("tag", _):
                throw .malformed("signature \(label): parameter \(p.key) has the wrong type")
            default:
                throw .malformed("signature \(label): parameter \(p.key) is not supported")
            }
        }
    }
}

/// Why a signed request was not verified, in the check's vocabulary (`DenyReason`).
public enum SignatureProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The fields do not parse, or ask for something this verifier does not do.
    case malformed(String)
    /// A component the policy requires is not covered, or `created` is missing.
    case incomplete(String)
    /// A covered component is missing from the request or cannot be read from it.
    case unresolvable(String)

    /// The refusal it maps to.
    public var reason: DenyReason {
        switch self {
        case .malformed: .signatureMalformed
        case .incomplete: .signatureIncomplete
        case .unresolvable: .signatureInvalid
        }
    }

    /// What went wrong, naming components and labels only.
    public var description: String {
        switch self {
        case .malformed(let why), .incomplete(let why), .unresolvable(let why): why
        }
    }
}
