/// Whether a user or credential may be used.
public enum Status: String, Sendable, Codable {
    case active, disabled
}

/// Everything the check needs to know about one API key and its owner, loaded by public id.
public struct ApiKeyRecord: Sendable, Equatable {
    public var id: String
    public var name: String
    public var userName: String
    public var userStatus: Status
    public var status: Status
    /// HMAC-SHA256 of the secret under the pepper.
    public var secretHash: [UInt8]
    /// Unix seconds; nil for never.
    public var expiresAt: Int64?
    /// Empty means every path.
    public var scopes: [PathScope]
    /// Empty means every address.
    public var allowedNetworks: [CIDR]

    public init(id: String, name: String, userName: String, userStatus: Status, status: Status, secretHash: [UInt8],
                expiresAt: Int64?, scopes: [PathScope], allowedNetworks: [CIDR]) {
        self.id = id
        self.name = name
        self.userName = userName
        self.userStatus = userStatus
        self.status = status
        self.secretHash = secretHash
        self.expiresAt = expiresAt
        self.scopes = scopes
        self.allowedNetworks = allowedNetworks
    }
}

/// One audit record: who did what to which credential, from where, and why it was refused.
///
/// Holds public ids only; the type has no field a secret could go into by accident except
/// `detail`, which callers fill with fixed phrases.
public struct AuditEvent: Sendable, Equatable, Codable {
    public var at: Int64
    public var actor: String
    public var action: String
    public var target: String?
    public var credential: String?
    public var sourceIP: String?
    public var reason: String?
    public var detail: String?

    public init(at: Int64, actor: String, action: String, target: String? = nil, credential: String? = nil,
                sourceIP: String? = nil, reason: String? = nil, detail: String? = nil) {
        self.at = at
        self.actor = actor
        self.action = action
        self.target = target
        self.credential = credential
        self.sourceIP = sourceIP
        self.reason = reason
        self.detail = detail
    }
}
