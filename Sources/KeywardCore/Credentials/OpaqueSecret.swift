import KeywardCrypto

/// The kinds of credential Keyward issues, by the prefix of their ids (DESIGN.md, "Credentials").
///
/// All but `signedRequest` are opaque secrets (`OpaqueSecret`): the whole secret travels and is
/// hashed. A `signedRequest` credential (`kwh_`: an HMAC secret or an Ed25519 public key) has an id
/// only; its secret never travels, it signs (`RequestKeyRecord`), so no opaque secret parses as one.
public enum SecretKind: String, Sendable, CaseIterable {
    case apiKey = "kwk"
    case clientSecret = "kwc"
    case serviceKey = "kws"
    case signedRequest = "kwh"

    /// True for the kinds whose whole secret is presented (`OpaqueSecret`).
    public var isOpaque: Bool { self != .signedRequest }

    /// The kind whose credential ids `text` has the shape of; nil for anything else.
    public init?(credentialId text: String) {
        guard let kind = Self.allCases.first(where: { OpaqueSecret.isCredentialId(text, kind: $0) }) else { return nil }
        self = kind
    }

    /// What a credential id looks like, for messages.
    public static let idShape = "kwk_, kwc_, kws_ or kwh_ followed by 16 letters and digits"

    /// How the check names a credential of this kind (`X-Auth-Method`) when it proves the request
    /// by itself: a signed-request credential as its standard form, an RFC 9421 signature.
    public var method: AuthMethod {
        switch self {
        case .apiKey, .clientSecret: .apiKey
        case .serviceKey: .serviceKey
        case .signedRequest: .httpSignature
        }
    }
}

/// A well-formed `<prefix>_<public id>_<secret><checksum>` secret whose checksum matched.
///
/// Shape: prefix (3), `_`, public id (16 base62), `_`, secret (32 base62), CRC32 of everything
/// before the checksum as 6 base62 symbols. The checksum lets typos and scanner hits be refused
/// before any lookup. `description` never shows the secret part.
public struct OpaqueSecret: Sendable, Equatable, CustomStringConvertible {
    /// Base62 symbols in the public id.
    public static let publicIdLength = 16
    /// Base62 symbols in the secret part (about 190 bits).
    public static let secretLength = 32
    /// Base62 symbols of the CRC32 checksum (62^6 > 2^32).
    public static let checksumLength = 6
    /// 3 + 1 + 16 + 1 + 32 + 6.
    public static let length = 59

    /// The kind named by the prefix.
    public let kind: SecretKind
    /// `<prefix>_<public id>`, the credential's id everywhere (lists, logs, audit).
    public let id: String
    /// The whole secret as presented; hash it, never print it.
    public let token: String

    /// Parses and checksums `text`; nil for anything that is not exactly this shape.
    public init?(parsing text: Substring) {
        guard text.utf8.count == Self.length else { return nil }
        guard let kind = Self.kind(of: text.utf8.span) else { return nil }
        self.kind = kind
        self.token = String(text)
        self.id = String(token.utf8.prefix(20))!
    }

    /// The kind of a well-formed secret's bytes (exactly `length` of them), checksum verified;
    /// nil otherwise. Reads the string's own storage (a span): the check runs this on every request.
    private static func kind(of b: Span<UInt8>) -> SecretKind? {
        guard b[3] == UInt8(ascii: "_"), b[20] == UInt8(ascii: "_") else { return nil }
        for i in 4..<20 where !Base62.isSymbol(b[i]) { return nil }
        for i in 21..<length where !Base62.isSymbol(b[i]) { return nil }
        let bodyEnd = length - checksumLength
        guard Base62.matches(UInt64(CRC32.checksum(b, upTo: bodyEnd)), b, from: bodyEnd) else { return nil }
        switch (b[0], b[1], b[2]) {
        case (0x6B, 0x77, 0x6B): return .apiKey  // kwk
        case (0x6B, 0x77, 0x63): return .clientSecret  // kwc
        case (0x6B, 0x77, 0x73): return .serviceKey  // kws
        default: return nil
        }
    }

    /// A new secret of `kind` with a fresh public id.
    public static func generate(_ kind: SecretKind) -> OpaqueSecret {
        generate(kind, publicId: Base62.random(count: publicIdLength))
    }

    /// A new secret for an existing public id (regeneration keeps the id).
    public static func generate(_ kind: SecretKind, publicId: String) -> OpaqueSecret {
        precondition(publicId.utf8.count == publicIdLength)
        precondition(kind.isOpaque, "a \(kind.rawValue)_ credential has no opaque secret")
        let body = "\(kind.rawValue)_\(publicId)_\(Base62.random(count: secretLength))"
        let checksum = Base62.encode(UInt64(CRC32.checksum(body)), width: checksumLength)
        return OpaqueSecret(parsing: Substring(body + checksum))!
    }

    /// True when `text` has the shape of a credential id (`kwk_` + 16 base62).
    public static func isCredentialId(_ text: String, kind: SecretKind) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, text.hasPrefix(kind.rawValue + "_") else { return false }
        return bytes[4...].allSatisfy(Base62.isSymbol)
    }

    /// How every listing shows the credential whose public id is `id` (CLI, API, pages):
    /// `<id>_••••`, the id and a marker that a secret belongs to it.
    public static func masked(id: String) -> String { id + "_••••" }

    /// The stored form: HMAC-SHA256 of the whole secret under the server pepper.
    public func hash(with pepper: HMACKey) -> [UInt8] {
        pepper.authenticationCode(token)
    }

    /// True when this is the secret of `record`: same id, and its hash matches in constant time,
    /// either the current one or, before `record.previousValidUntil`, the one a roll replaced.
    public func matches(_ record: CredentialRecord, pepper: HMACKey, now: Int64) -> Bool {
        guard id == record.id else { return false }
        let hash = hash(with: pepper)
        if ConstantTime.equals(hash, record.secretHash) { return true }
        guard let previous = record.previousSecretHash, let until = record.previousValidUntil, now < until else { return false }
        return ConstantTime.equals(hash, previous)
    }

    /// Public id and a redaction marker; never the secret.

    public var description: String { "\(id)_<redacted>" }
}
