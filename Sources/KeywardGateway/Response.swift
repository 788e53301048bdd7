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

    /// A JSON response from already-encoded JSON text.
    static func json(_ status: Int, _ json: String, headers: [(String, String)] = []) -> Response {
        Response(status: status, headers: headers + [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
                 body: Array((json + "\n").utf8))
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
        default: "Status"
        }
    }
}
