import Foundation
import KeywardCrypto

/// The claims of a Keyward access token (RFC 9068 §2.2): who, for which credential, where, until when.
public struct AccessTokenClaims: Sendable, Equatable {
    /// `iss`: the configured issuer.
    public var issuer: String
    /// `sub`: the user the parent credential belongs to.
    public var subject: String
    /// `aud`: the resource servers the token is for.
    public var audience: String
    /// `client_id`: the parent credential's public id (`kwk_...` or `kwc_...`).
    public var clientId: String
    /// `scope`: path scopes as written on the command line, or `["*"]` for every path the parent may use.
    public var scope: [String]
    /// `iat`, Unix seconds.
    public var issuedAt: Int64
    /// `exp`, Unix seconds.
    public var expiresAt: Int64
    /// `jti`: a unique id, what a revocation names.
    public var id: String
    /// `kw_epoch`: the parent credential's revocation epoch when the token was issued (0 before
    /// its first revocation); nil in tokens issued before Keyward wrote it.
    public var epoch: Int64?

    /// Claims from their parts.
    public init(
        issuer: String, subject: String, audience: String, clientId: String, scope: [String],
        issuedAt: Int64, expiresAt: Int64, id: String, epoch: Int64? = nil
    ) {
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.clientId = clientId
        self.scope = scope
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.id = id
        self.epoch = epoch
    }

    /// The `scope` claim's text: space-separated (RFC 8693 §4.2).
    public var scopeText: String { scope.joined(separator: " ") }

    /// The payload JSON, members in a fixed order.
    var json: [UInt8] {
        var fields: [(String, JSON)] = [
            ("iss", .string(issuer)), ("sub", .string(subject)), ("aud", .string(audience)), ("exp", .int(expiresAt)),
            ("iat", .int(issuedAt)), ("nbf", .int(issuedAt)), ("jti", .string(id)), ("client_id", .string(clientId)),
            ("scope", .string(scopeText)),
        ]
        // Absent rather than null: a claim the token does not make (RFC 7519 §4).
        if let epoch { fields.append(("kw_epoch", .int(epoch))) }
        return JSON.object(fields).bytes
    }

    /// Reads the claims from a payload; nil when a required claim is missing or of the wrong type.
    init?(json: [String: Any]) {
        guard let iss = json["iss"] as? String, let sub = json["sub"] as? String,
            let exp = JSONText.integer(json["exp"]), let iat = JSONText.integer(json["iat"]),
            let jti = json["jti"] as? String, let clientId = json["client_id"] as? String,
            let scope = json["scope"] as? String
        else { return nil }
        let audience: String
        if let aud = json["aud"] as? String {
            audience = aud
        } else if let auds = json["aud"] as? [String], auds.count == 1 {
            audience = auds[0]
        } else {
            return nil
        }
        self.init(
            issuer: iss, subject: sub, audience: audience, clientId: clientId,
            scope: scope.split(separator: " ").map(String.init), issuedAt: iat, expiresAt: exp, id: jti,
            epoch: JSONText.integer(json["kw_epoch"]))
    }
}

/// JSON helpers for tokens and endpoint bodies; writing itself is `JSON` (KeywardCrypto).
public enum JSONText {
    /// `text` as a JSON string literal, written by `JSON`.
    public static func string(_ text: String) -> String { JSON.quoted(text) }

    /// An integral JSON number as Int64 (JSONSerialization gives NSNumber); nil for anything else.
    public static func integer(_ v: Any?) -> Int64? {
        if let i = v as? Int64 { return i }
        if let i = v as? Int { return Int64(i) }
        if let d = v as? Double, d == d.rounded(), abs(d) < 9e15 { return Int64(d) }
        return nil
    }

    /// Parses a JSON object (UTF-8, no duplicate names); nil for anything else.
    public static func parseObject(_ bytes: [UInt8]) -> [String: Any]? {
        JSONReader.object(bytes)
    }
}
