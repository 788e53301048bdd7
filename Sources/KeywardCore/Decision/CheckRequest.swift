/// The facts of one request that the decision depends on, already pulled out of server params.
public struct CheckRequest: Sendable {
    /// HTTP method as the server reported it (RFC 3875 §4.1.12 `REQUEST_METHOD`).
    public var method: String
    /// The normalised path, or why it could not be normalised.
    public var path: Result<String, PathNormalizer.Refusal>
    /// The client address as the server saw it.
    public var remoteAddress: String?
    /// The `Authorization` header value (`HTTP_AUTHORIZATION`); nil when absent.
    public var authorization: String?
    /// The `X-API-Key` header value (`HTTP_X_API_KEY`); nil when absent.
    public var apiKeyHeader: String?
    /// The raw query string, where `APIKey=` / `api_key=` may be.
    public var query: Substring?

    /// A request from facts already pulled out; the credential locations default to absent.
    public init(method: String, path: Result<String, PathNormalizer.Refusal>, remoteAddress: String?,
                authorization: String? = nil, apiKeyHeader: String? = nil, query: Substring? = nil) {
        self.method = method
        self.path = path
        self.remoteAddress = remoteAddress
        self.authorization = authorization
        self.apiKeyHeader = apiKeyHeader
        self.query = query
    }
}
