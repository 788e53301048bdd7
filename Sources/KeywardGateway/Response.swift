import KeywardCrypto

/// A CGI-style response (RFC 3875 §6): a `Status` header, other headers, a body.
public struct Response: Sendable, Equatable {
    /// HTTP status code, sent as the CGI `Status` header (RFC 3875 §6.3.3).
    public var status: Int
    /// Header fields in send order; duplicates kept, names sent as given.
    public var headers: [(String, String)]
    /// Body bytes; `serialized()` adds `Content-Length` for a non-empty body.
    public var body: [UInt8]

    /// A response from its parts; no headers and no body by default.
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Same status, body and ordered headers (names compared case-sensitively).
    public static func == (a: Response, b: Response) -> Bool {
        a.status == b.status && a.body == b.body && a.headers.elementsEqual(b.headers, by: { $0 == $1 })
    }

    /// The first value of a header, by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// A JSON response: the compact text and a newline, `application/json`, `no-store`.
    public static func json(_ status: Int, _ value: JSON, headers: [(String, String)] = []) -> Response {
        json(status, value.text, headers: headers)
    }

    /// A JSON response from text `JSON` already wrote.
    static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> Response {
        Response(
            status: status, headers: headers + [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
            body: Array((text + "\n").utf8))
    }

    /// An error as JSON (`ErrorBody.json`), `no-store`.
    public static func error(_ status: Int, _ body: ErrorBody, headers: [(String, String)] = []) -> Response {
        json(status, body.json, headers: headers)
    }

    /// The bytes a FastCGI or CGI program writes. Header values are stripped of control bytes so
    /// no value can split the header block.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + body.count)
        func append(_ text: String) { out.append(contentsOf: text.utf8) }
        append("Status: \(status) \(Self.reason(status))\r\n")
        for (name, value) in headers {
            append(name)
            append(": ")
            append(Self.clean(value))
            append("\r\n")
        }
        if !body.isEmpty || headers.contains(where: { $0.0 == "Content-Type" }) {
            append("Content-Length: \(body.count)\r\n")
        }
        append("\r\n")
        out.append(contentsOf: body)
        return out
    }

    static func clean(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return value }
        return String(decoding: value.utf8.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 204: "No Content"
        case 302: "Found"
        case 303: "See Other"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 415: "Unsupported Media Type"
        case 413: "Content Too Large"
        case 429: "Too Many Requests"
        case 410: "Gone"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        default: "Status"
        }
    }
}

/// Keyward's one error body, for the check, the gateway's own routes, the admin API and the
/// reveal page: `{"error": ..., "error_description": ..., "code": ...}`.
///
/// `error` is the error code a standard names where one applies (the check's OAuth 2.0 bearer
/// error, RFC 6750 §3.1; `server_error` for a 500) and Keyward's code otherwise; `code` is always
/// Keyward's stable machine code (`path_not_allowed`, `not_found`, `link_used_or_expired`...),
/// the member to branch on; `error_description` is for people and may change. The token
/// endpoints' errors carry only RFC 6749 §5.2's `error` and `error_description` (`code` nil).
public struct ErrorBody: Sendable, Equatable {
    /// `error`: the standard's code where one applies, else `code`; nil (the member left out)
    /// for a check without any credential, which RFC 6750 §3.1 answers with no error code.
    public var error: String?
    /// `error_description`: the message for people.
    public var description: String
    /// `code`: Keyward's stable machine code; nil only for RFC 6749 token endpoint errors.
    public var code: String?

    /// An error whose standard code (`error`) and Keyward code differ, or (`error` nil) coincide.
    public init(code: String, _ description: String, error: String? = nil) {
        self.error = error ?? code
        self.description = description
        self.code = code
    }

    /// An RFC 6749 §5.2 token endpoint error: `error` and `error_description` only.
    public static func oauth(_ error: String, _ description: String) -> ErrorBody {
        var body = ErrorBody(code: error, description)
        body.code = nil
        return body
    }

    /// `{"error", "error_description", "code"}` (no `code` for an OAuth error).
    public var json: JSON {
        var members: [(String, JSON)] = error.map { [("error", .string($0))] } ?? []
        members.append(("error_description", .string(description)))
        if let code { members.append(("code", .string(code))) }
        return .object(members)
    }
}
