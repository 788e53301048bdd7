import Foundation

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
    public init(issuer: String, subject: String, audience: String, clientId: String, scope: [String],
                issuedAt: Int64, expiresAt: Int64, id: String, epoch: Int64? = nil) {
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
        var fields: [(String, Any)] = [
            ("iss", issuer), ("sub", subject), ("aud", audience), ("exp", expiresAt), ("iat", issuedAt),
            ("nbf", issuedAt), ("jti", id), ("client_id", clientId), ("scope", scopeText),
        ]
        if let epoch { fields.append(("kw_epoch", epoch)) }
        return Array(JSONText.object(fields).utf8)
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
        self.init(issuer: iss, subject: sub, audience: audience, clientId: clientId,
                  scope: scope.split(separator: " ").map(String.init), issuedAt: iat, expiresAt: exp, id: jti,
                  epoch: JSONText.integer(json["kw_epoch"]))
    }
}

/// Small, exact JSON writing for tokens and endpoint bodies (RFC 8259).
public enum JSONText {
    /// `text` as a JSON string literal.
    public static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let s where PrintableText.hides(s):
                let hex = String(s.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// An object from ordered members; values are strings, integers, booleans, string arrays or raw JSON.
    public static func object(_ fields: [(String, Any)]) -> String {
        "{" + fields.map { "\(string($0.0)):\(value($0.1))" }.joined(separator: ",") + "}"
    }

    /// Raw JSON text, inserted as is.
    public struct Raw {
        public let text: String
        public init(_ text: String) { self.text = text }
    }

    static func value(_ v: Any) -> String {
        switch v {
        case let s as String: string(s)
        case let b as Bool: b ? "true" : "false"
        case let i as Int64: String(i)
        case let i as Int: String(i)
        case let a as [String]: "[" + a.map(string).joined(separator: ",") + "]"
        case let r as Raw: r.text
        default: preconditionFailure("unsupported JSON value \(type(of: v))")
        }
    }

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
