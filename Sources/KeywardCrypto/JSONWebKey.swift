internal import Foundation

/// A public JSON Web Key (RFC 7517 §4): string members in the order they are written.
///
/// Only public keys pass through this type. Construction refuses private members (`d`, the RSA
/// CRT members, `oth`, and symmetric `k`), so a private JWK pasted where a public one belongs is an
/// error instead of a leak into a JWKS document (RFC 7517 §9.2, RFC 7518 §6.2.2 and §6.3.2).
/// Members whose values are not strings (`key_ops`, `x5c`) are dropped on import: Keyward uses none.
public struct JSONWebKey: Sendable, Equatable, CustomStringConvertible {
    /// One name/value member.
    public struct Member: Sendable, Equatable {
        /// The member name, e.g. `kty`.
        public let name: String
        /// The member value, e.g. `OKP`.
        public let value: String

        /// A member `name` with `value`.
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// Member names that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
    public static let privateMemberNames: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    /// The largest JWK text accepted; an 8192-bit RSA key is under 1.5 KB.
    public static let maximumJSONLength = 16 * 1024

    /// The members, in order.
    public let members: [Member]

    /// A JWK from `members`; refuses private members and repeated names.
    public init(_ members: [Member]) throws(CryptoError) {
        var seen = Set<String>()
        for m in members {
            guard !Self.privateMemberNames.contains(m.name) else {
                throw CryptoError(.invalidKey, "a public JWK carries a private key member")
            }
            guard seen.insert(m.name).inserted else { throw CryptoError(.invalidEncoding, "a JWK member appears twice") }
        }
        self.members = members
    }

    /// A JWK parsed from JSON text (RFC 7517 §4): a JSON object; refuses private members, whatever their type.
    public init(json: String) throws(CryptoError) {
        guard json.utf8.count <= Self.maximumJSONLength,
            let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        else {
            throw CryptoError(.invalidEncoding, "a JWK must be a JSON object")
        }
        guard Self.privateMemberNames.isDisjoint(with: object.keys) else {
            throw CryptoError(.invalidKey, "a public JWK carries a private key member")
        }
        let strings = object.compactMap { name, value in (value as? String).map { Member(name, $0) } }
        try self.init(strings.sorted { $0.name < $1.name })
    }

    /// The value of member `name`, nil when absent.
    public subscript(name: String) -> String? {
        members.first { $0.name == name }?.value
    }

    /// The members as a dictionary.
    public var dictionary: [String: String] {
        Dictionary(members.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// The key as a JSON value, members in order.
    public var value: JSON { .object(members.map { ($0.name, .string($0.value)) }) }

    /// Compact JSON text, members in order, no whitespace, escaping only what JSON requires.
    public var json: String { value.text(escaping: .minimal) }

    /// The JSON text: a public key, safe to print.
    public var description: String { json }

    /// A JWK Set document `{"keys":[...]}` (RFC 7517 §5), as served at `/.well-known/jwks.json`.
    public static func set(_ keys: [JSONWebKey]) -> String {
        JSON.object([("keys", .array(keys.map(\.value)))]).text(escaping: .minimal)
    }

    /// The RFC 7638 thumbprint of `members`: base64url(SHA-256(the `required` members, which must
    /// be given in lexicographic order, as compact JSON)) (§3.2, §3.3). Nil when one is missing.
    public static func thumbprint(of members: [String: String], required: [String]) -> String? {
        var parts: [(String, JSON)] = []
        for name in required {
            guard let value = members[name] else { return nil }
            parts.append((name, .string(value)))
        }
        let canonical = JSON.object(parts).text(escaping: .minimal)
        return Base64URL.encode(Digest.sha256(Array(canonical.utf8)))
    }
}
