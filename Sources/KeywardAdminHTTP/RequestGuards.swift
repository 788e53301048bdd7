import Foundation
import KeywardAdmin
import KeywardCore

/// What the HTTP adapter checks about a request before any operation runs, beyond who sent it:
/// that a browser's state-changing request comes from Keyward's own pages, and the bodies pages
/// send (`application/x-www-form-urlencoded`).
extension APIRequest {
    /// Refuses a state-changing request a browser says comes from elsewhere: `Sec-Fetch-Site:
    /// cross-site` or `same-site` (a sibling subdomain is another site's code), an `Origin` of
    /// `null` (sandboxed frames, some redirects), or an `Origin` whose host and port are not the
    /// `Host` the request was sent to. No `Origin` at all (a script, an older browser) passes
    /// here; the CSRF token still has to. `Origin: null` passes only with `Sec-Fetch-Site:
    /// same-origin`: a browser sends exactly that for a form on a page whose referrer policy is
    /// `no-referrer` (Fetch, "serializing a request origin"), which every admin page's is.
    func requireSameOrigin() throws(AdminError) {
        let site = fetchSite?.lowercased()
        if site == "cross-site" || site == "same-site" { throw .crossOrigin }
        guard let origin else { return }
        if origin == "null" && site == "same-origin" { return }
        guard let host, let authority = Self.authority(ofOrigin: origin), authority == Self.normalized(host) else {
            throw .crossOrigin
        }
    }

    /// `host[:port]` of a serialised origin (`https://keys.example.com:8443`), lower case, the
    /// default port of its scheme dropped; nil for `null` or anything else that is not one.
    static func authority(ofOrigin origin: String) -> String? {
        let lower = origin.lowercased()
        let rest: Substring
        let defaultPort: String
        if lower.hasPrefix("https://") {
            rest = lower.dropFirst(8)
            defaultPort = ":443"
        } else if lower.hasPrefix("http://") {
            rest = lower.dropFirst(7)
            defaultPort = ":80"
        } else {
            return nil
        }
        guard !rest.isEmpty, !rest.contains("/"), !rest.contains("@"), !rest.contains("?"), !rest.contains("#") else { return nil }
        return rest.hasSuffix(defaultPort) ? String(rest.dropLast(defaultPort.count)) : String(rest)
    }

    /// A `Host` value in the form `authority(ofOrigin:)` compares against: lower case, and without
    /// a default port (a client may send either).
    static func normalized(_ host: String) -> String {
        let lower = host.lowercased()
        for port in [":443", ":80"] where lower.hasSuffix(port) { return String(lower.dropLast(port.count)) }
        return lower
    }

    /// True for an `application/x-www-form-urlencoded` body.
    var isForm: Bool {
        contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() == "application/x-www-form-urlencoded"
    }

    /// The `csrf_token` field of a form body, for pages, which cannot set headers.
    var formCSRFToken: String? {
        guard isForm, let fields = try? form([], ignoringOthers: true) else { return nil }
        return fields.values["csrf_token"]?.first
    }

    /// The form body, refusing other media types, oversized or malformed bodies (broken
    /// escapes, invalid UTF-8) and fields outside `allowed` (`csrf_token` is always allowed).
    func form(_ allowed: Set<String>, ignoringOthers: Bool = false) throws(AdminError) -> FormBody {
        guard let body else { throw .bodyTooLarge }
        guard isForm else { throw .unsupportedMediaType }
        return try FormBody(body, allowed: allowed.union(["csrf_token"]), ignoringOthers: ignoringOthers)
    }
}

/// A parsed `application/x-www-form-urlencoded` body (WHATWG URL §5.1): each field's values in
/// order, so a multi-select (`scope=/a/&scope=/b/`) reads as a list.
struct FormBody {
    private(set) var values: [String: [String]] = [:]

    init(_ bytes: [UInt8], allowed: Set<String>, ignoringOthers: Bool = false) throws(AdminError) {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalid("the form is not UTF-8") }
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let nameBytes = PercentDecoding.decode(parts[0], plusAsSpace: true),
                let valueBytes = PercentDecoding.decode(parts.count > 1 ? parts[1] : "", plusAsSpace: true),
                let name = String(validating: nameBytes, as: UTF8.self), let value = String(validating: valueBytes, as: UTF8.self)
            else { throw .invalid("the form has a broken escape or is not UTF-8") }
            guard allowed.contains(name) else {
                if ignoringOthers { continue }
                throw .invalid("unknown field \(PrintableText.escaped(String(name.prefix(64))))")
            }
            values[name, default: []].append(value)
        }
    }

    /// The one value of `name`; nil when absent or empty; refused when given twice.
    func string(_ name: String) throws(AdminError) -> String? {
        guard let all = values[name] else { return nil }
        guard all.count == 1 else { throw .invalid("\(name) is given more than once") }
        return all[0].isEmpty ? nil : all[0]
    }

    /// `string(name)`, required.
    func requiredString(_ name: String) throws(AdminError) -> String {
        guard let value = try string(name) else { throw .invalid("\(name) is required") }
        return value
    }

    /// Every non-empty value of `name`, at most `max`; nil when absent.
    func strings(_ name: String, max: Int = 100) throws(AdminError) -> [String]? {
        guard let all = values[name] else { return nil }
        guard all.count <= max else { throw .invalid("\(name) has more than \(max) values") }
        return all.filter { !$0.isEmpty }
    }
}

extension AdminError {
    /// A browser's state-changing request from another origin: refused as a CSRF failure
    /// (DESIGN.md, "Admin pages"), with its own message.
    static let crossOrigin = AdminError(
        .csrfFailed,
        "The request comes from another site; use Keyward's own pages.")
}

extension AdminErrorCode {
    /// The HTTP status of a refusal with this code.
    var status: Int {
        switch self {
        case .invalidArgument, .invalidJSON: 400
        case .unauthenticated: 401
        case .forbidden, .csrfFailed: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .conflict: 409
        case .linkUsedOrExpired: 410
        case .bodyTooLarge: 413
        case .unsupportedMediaType: 415
        case .tooManyRequests: 429
        case .internalError: 500
        case .mailFailed: 502
        }
    }
}

extension AdminError {
    /// The HTTP status of this refusal.
    var status: Int { reason.status }
}
