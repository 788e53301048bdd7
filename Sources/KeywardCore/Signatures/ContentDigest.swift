import KeywardCrypto

/// `Content-Digest` (RFC 9530 §2): a dictionary of algorithm to byte sequence over the content.
///
/// Keyward checks `sha-256` (RFC 9530 §5, "standard"); other algorithms may stand beside it and
/// are not looked at. A field without `sha-256` is refused rather than taken on trust.
public enum ContentDigest {
    /// The outcome of checking a field against a body.
    public enum Check: Sendable, Equatable {
        /// The `sha-256` member matches the body.
        case matches
        /// It does not: the body is not the one that was signed.
        case mismatch
        /// The field does not parse, or has no `sha-256` member of 32 bytes.
        case malformed(String)
    }

    /// Checks the `sha-256` member of `field` against `body`.
    public static func check(_ field: String, body: [UInt8]) -> Check {
        let members: [SFDictionaryMember]
        do {
            members = try StructuredFields.parseDictionary(field)
        } catch {
            return .malformed("Content-Digest: \(error)")
        }
        guard let member = members.first(where: { $0.key == "sha-256" }) else {
            return .malformed("Content-Digest has no sha-256 member")
        }
        guard case .item(let item) = member.value, case .bytes(let expected) = item.value, expected.count == 32 else {
            return .malformed("Content-Digest sha-256 is not a 32-byte byte sequence")
        }
        return ConstantTime.equals(Digest.sha256(body), expected) ? .matches : .mismatch
    }

    /// The field a sender would write for `body`: `sha-256=:<base64>:`.
    public static func field(for body: [UInt8]) -> String {
        "sha-256=" + SFBareItem.bytes(Digest.sha256(body)).serialized
    }
}
