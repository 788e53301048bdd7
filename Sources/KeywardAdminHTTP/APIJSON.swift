import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

/// The admin API's answers: JSON (written with explicit `null`s, so every documented field is
/// always present) with `no-store`, and errors as `ErrorBody` in the API's `{"error", "message"}` form.
enum APIResponse {
    static func json(_ status: Int, _ value: JSON, headers: [(String, String)] = []) -> Response {
        Response.json(status, value, headers: headers)
    }

    static func noContent(headers: [(String, String)] = []) -> Response {
        Response(status: 204, headers: headers + [("Cache-Control", "no-store")])
    }

    static func error(_ error: AdminError, headers: [(String, String)] = []) -> Response {
        json(error.status, error.body.json, headers: headers)
    }
}

extension AdminError {
    /// The error as Keyward's one error body: `code` as both `error` and `code`.
    var body: ErrorBody { ErrorBody(code: code, message) }

    /// 401: no credential, or one that does not prove who the caller is.
    static func unauthenticated(_ message: String = "Sign in, or present an API key.") -> AdminError {
        AdminError(.unauthenticated, message)
    }
    static let csrfFailed = AdminError(
        .csrfFailed,
        "A signed-in request that changes something needs the X-CSRF-Token header from sign-in.")
    static let invalidJSON = AdminError(.invalidJSON, "The body is not a JSON object in UTF-8.")
    static let unsupportedMediaType = AdminError(
        .unsupportedMediaType,
        "The body must be JSON: Content-Type: application/json.")
    static let bodyTooLarge = AdminError(.bodyTooLarge, "The body is too large.")
    static let noSuchEndpoint = AdminError(.notFound, "No such endpoint.")
    static let internalError = AdminError(.internalError, "Internal error.")
    static func methodNotAllowed(_ allow: [String]) -> AdminError {
        AdminError(.methodNotAllowed, "Use \(allow.joined(separator: ", ")) here.")
    }
    static func throttled(_ seconds: Int64) -> AdminError {
        AdminError(.tooManyRequests, "Too many failed attempts; try again in \(seconds) s.")
    }
}

/// A request body: a JSON object whose members are read by type, refusing members not asked for.
struct JSONBody {
    private let members: [String: Any]

    /// Parses `bytes` (empty: `{}` when `allowEmpty`) and refuses members outside `allowed`.
    init(_ bytes: [UInt8], allowed: Set<String>, allowEmpty: Bool) throws(AdminError) {
        if bytes.isEmpty && allowEmpty {
            members = [:]
            return
        }
        guard String(validating: bytes, as: UTF8.self) != nil, let object = JSONText.parseObject(bytes) else {
            throw .invalidJSON
        }
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .invalid("unknown field \(Self.shown(unknown))")
        }
        members = object
    }

    private static func shown(_ name: String) -> String {
        let clipped = name.unicodeScalars.prefix(64).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }
        return JSONText.string(String(clipped))
    }

    private func present(_ name: String) -> Any? {
        guard let v = members[name], !(v is JSONReader.Null) else { return nil }
        return v
    }

    /// True when the member is there, `null` included.
    func has(_ name: String) -> Bool { members[name] != nil }

    /// A string member; nil when absent or `null`.
    func string(_ name: String) throws(AdminError) -> String? {
        guard let v = present(name) else { return nil }
        guard let s = v as? String else { throw .invalid("\(name) must be a string") }
        return s
    }

    /// A string member that must be there.
    func requiredString(_ name: String) throws(AdminError) -> String {
        guard let s = try string(name) else { throw .invalid("\(name) is required") }
        return s
    }

    /// A boolean member; nil when absent or `null`.
    func bool(_ name: String) throws(AdminError) -> Bool? {
        guard let v = present(name) else { return nil }
        guard let b = v as? Bool else { throw .invalid("\(name) must be true or false") }
        return b
    }

    /// An array of strings; nil when absent or `null`.
    func strings(_ name: String, max: Int = 100) throws(AdminError) -> [String]? {
        guard let v = present(name) else { return nil }
        guard let a = v as? [Any], a.count <= max else { throw .invalid("\(name) must be an array of at most \(max) strings") }
        var out: [String] = []
        for item in a {
            guard let s = item as? String else { throw .invalid("\(name) must be an array of strings") }
            out.append(s)
        }
        return out
    }
}

/// The query string of an admin API request, parsed strictly: each parameter at most once, only
/// the ones the endpoint takes.
struct Query {
    private var values: [String: String] = [:]

    init(_ query: Substring?, allowed: Set<String>) throws(AdminError) {
        guard let query, !query.isEmpty else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), let value = Self.decode(parts.count > 1 ? parts[1] : "") else {
                throw .invalid("the query string is not valid percent-encoded UTF-8")
            }
            guard allowed.contains(name) else { throw .invalid("unknown query parameter \(JSONText.string(String(name.prefix(64))))") }
            guard values[name] == nil else { throw .invalid("query parameter \(name) given twice") }
            values[name] = value
        }
    }

    private static func decode(_ text: Substring) -> String? {
        guard let bytes = PercentDecoding.decode(text, plusAsSpace: true), let s = String(validating: bytes, as: UTF8.self),
            !s.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { return nil }
        return s
    }

    /// The value, nil when absent or empty.
    subscript(_ name: String) -> String? {
        guard let v = values[name], !v.isEmpty else { return nil }
        return v
    }
}

/// `?limit=1..maxPageSize&cursor=...` and `{"items": [...], "next_cursor": ...}` for every list.
///
/// The cursor is opaque to clients: base64url of the list's name and the sort key of the last item
/// returned, so a page after a deletion or insertion still starts at the right place.
struct Page {
    let limit: Int
    /// The sort key the page starts after; nil for the first page.
    let after: String?
    private let list: String

    /// Reads `limit` and `cursor` for the list named `list` (a cursor of another list is refused).
    init(_ query: Query, list: String, limits: Limits) throws(AdminError) {
        try self.init(limit: query["limit"], cursor: query["cursor"], list: list, limits: limits)
    }

    /// `limits` bounds the page size (`defaultPageSize`, `maxPageSize`) and the cursor's length.
    init(limit limitText: String?, cursor: String?, list: String, limits: Limits) throws(AdminError) {
        self.list = list
        if let text = limitText {
            let maxLimit = limits.maxPageSize
            guard text.utf8.count <= String(maxLimit).utf8.count, let n = Int(text), (1...maxLimit).contains(n) else {
                throw .invalid("limit must be an integer from 1 to \(maxLimit)")
            }
            limit = n
        } else {
            limit = limits.defaultPageSize
        }
        if let cursor {
            guard cursor.utf8.count <= limits.maxCursorBytes, let bytes = Base64URL.decode(cursor),
                let text = String(validating: bytes, as: UTF8.self),
                text.hasPrefix(list + ":")
            else { throw .invalid("cursor is not one this list gave out") }
            after = String(text.dropFirst(list.count + 1))
        } else {
            after = nil
        }
    }

    func cursor(_ key: String) -> String { Base64URL.encode(list + ":" + key) }

    /// One page of `items`, which must be sorted by `key` (compared as UTF-8 bytes) and unique in it.
    func answer<T>(_ items: [T], key: (T) -> String, render: (T) throws -> JSON) rethrows -> Response {
        let start = after.map { a in items.firstIndex { Self.less(a, key($0)) } ?? items.endIndex } ?? items.startIndex
        let slice = items[start...].prefix(limit)
        let next: JSON = start + slice.count < items.endIndex && !slice.isEmpty ? .string(cursor(key(slice.last!))) : .null
        return APIResponse.json(200, .object([("items", .array(try slice.map(render))), ("next_cursor", next)]))
    }

    /// Byte order, so the order does not depend on Unicode canonical equivalence.
    static func less(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    /// Sorts by `key` in byte order.
    static func sorted<T>(_ items: [T], by key: (T) -> String) -> [T] {
        items.sorted { less(key($0), key($1)) }
    }
}
