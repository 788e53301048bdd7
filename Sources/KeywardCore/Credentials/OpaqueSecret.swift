import KeywardCrypto

/// The kinds of opaque secret Keyward issues, by prefix (DESIGN.md, "Credentials").
public enum SecretKind: String, Sendable, CaseIterable {
    case apiKey = "kwk"
    case clientSecret = "kwc"
    case serviceKey = "kws"
}

/// A well-formed `<prefix>_<public id>_<secret><checksum>` secret whose checksum matched.
///
/// Shape: prefix (3), `_`, public id (16 base62), `_`, secret (32 base62), CRC32 of everything
/// before the checksum as 6 base62 symbols. The checksum lets typos and scanner hits be refused
/// before any lookup. `description` never shows the secret part.
public struct OpaqueSecret: Sendable, Equatable, CustomStringConvertible {
    public static let publicIdLength = 16
    public static let secretLength = 32
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
        let bytes = Array(text.utf8)
        guard bytes.count == Self.length, bytes[3] == UInt8(ascii: "_"), bytes[20] == UInt8(ascii: "_"),
              let kind = SecretKind(rawValue: String(decoding: bytes[0..<3], as: UTF8.self))
        else { return nil }
        for i in 4..<20 where !Base62.isSymbol(bytes[i]) { return nil }
        for i in 21..<Self.length where !Base62.isSymbol(bytes[i]) { return nil }
        let body = bytes[0..<(Self.length - Self.checksumLength)]
        let expected = Array(Base62.encode(UInt64(CRC32.checksum(body)), width: Self.checksumLength).utf8)
        guard expected.elementsEqual(bytes[(Self.length - Self.checksumLength)...]) else { return nil }
        self.kind = kind
        self.id = String(decoding: bytes[0..<20], as: UTF8.self)
        self.token = String(text)
    }

    /// A new secret of `kind` with a fresh public id.
    public static func generate(_ kind: SecretKind) -> OpaqueSecret {
        generate(kind, publicId: Base62.random(count: publicIdLength))
    }

    /// A new secret for an existing public id (regeneration keeps the id).
    public static func generate(_ kind: SecretKind, publicId: String) -> OpaqueSecret {
        precondition(publicId.utf8.count == publicIdLength)
        let body = "\(kind.rawValue)_\(publicId)_\(Base62.random(count: secretLength))"
        let checksum = Base62.encode(UInt64(CRC32.checksum(body.utf8)), width: checksumLength)
        return OpaqueSecret(parsing: Substring(body + checksum))!
    }

    /// True when `text` has the shape of a credential id (`kwk_` + 16 base62).
    public static func isCredentialId(_ text: String, kind: SecretKind) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, text.hasPrefix(kind.rawValue + "_") else { return false }
        return bytes[4...].allSatisfy(Base62.isSymbol)
    }

    /// The stored form: HMAC-SHA256 of the whole secret under the server pepper.
    public func hash(pepper: [UInt8]) -> [UInt8] {
        Digest.hmacSHA256(key: pepper, message: token.utf8)
    }

    public var description: String { "\(id)_<redacted>" }
}
