import Foundation
import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

/// What a page handler gets: the request, who is signed in (nil on the sign-in page), the
/// operations acting as them, and the CSRF token its forms carry.
struct PageContext {
    let request: APIRequest
    let mount: String
    let caller: Caller?
    let admin: Admin?
    /// The session's CSRF token, for the `csrf_token` field of every form; empty when signed out.
    let csrf: String

    /// The signed-in user (handlers behind `.session` routes only).
    var user: String { caller?.user ?? "" }
    /// True when the caller holds `admin`.
    var isAdmin: Bool { caller?.privileges.contains(Privilege.admin) ?? false }
    /// The operations (handlers behind `.session` routes only).
    var operations: Admin {
        guard let admin else { preconditionFailure("a signed-out page asked for the admin operations") }
        return admin
    }

    /// An absolute path under the mount: `link("/admin/keys/new")` is `/keyward/admin/keys/new`.
    func link(_ path: String) -> String { mount + path }

    /// A link with a percent-encoded path segment appended: `link("/admin/keys/", id)`.
    func link(_ path: String, _ segment: String, _ rest: String = "") -> String {
        mount + path + PageContext.encode(segment) + rest
    }

    static func encode(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/?#"))) ?? ""
    }

    /// The form fields of a POST (`application/x-www-form-urlencoded` only), refusing unknown and
    /// repeated fields: the CSRF token is checked before any handler runs.
    func form(_ allowed: Set<String>) throws -> FormBody {
        try request.form(allowed.union(["csrf_token"]))
    }

    /// The form's CSRF token field, hidden.
    func csrfField(_ html: inout HTML) {
        html.void("input", [.init("type", "hidden"), .init("name", "csrf_token"), .init("value", csrf)])
    }

    /// A one-button form that POSTs to `action`.
    func button(_ html: inout HTML, _ label: String, action: String, style: String? = nil, disabled: String? = nil) {
        html.element("form", [.init("method", "post"), .init("action", action)]) { html in
            csrfField(&html)
            var attributes: [HTML.Attribute] = [.init("type", "submit")]
            if let style { attributes.append(.init("class", style)) }
            if let disabled { attributes += ["disabled", .init("title", disabled)] }
            html.element("button", attributes, text: label)
        }
    }
}

/// What a page handler answers.
enum PageResult {
    /// A page in the layout.
    case page(HTMLPage)
    /// 303 See Other to a path under the mount (after a POST, Post/Redirect/Get).
    case redirect(String)
    /// A finished response (an asset, a sign-in with its cookies).
    case response(Response)
}

/// One page: its title, its content (the inside of `<main>`), its status, and the navigation
/// entry it belongs to.
struct HTMLPage {
    var title: String
    var status = 200
    var section: Section?
    var content = HTML()
    /// Extra headers (`Retry-After`).
    var headers: [(String, String)] = []

    init(_ title: String, section: Section? = nil, status: Int = 200, _ build: (inout HTML) -> Void) {
        self.title = title
        self.section = section
        self.status = status
        build(&content)
    }
}

/// The navigation: what everyone sees, then what admins see.
enum Section: String, CaseIterable {
    case keys, clients, services, hmac, requests, sessions, users, groups, roles, resources, signingKeys, audit, explain

    var title: String {
        switch self {
        case .keys: "My keys"
        case .clients: "Clients"
        case .services: "Services"
        case .hmac: "Signed requests"
        case .requests: "Access requests"
        case .sessions: "Sessions"
        case .users: "Users"
        case .groups: "Groups"
        case .roles: "Roles"
        case .resources: "Resources"
        case .signingKeys: "Signing keys"
        case .audit: "Audit"
        case .explain: "Explain"
        }
    }

    /// The path of its page below the mount.
    var path: String {
        switch self {
        case .keys: "/admin/"
        case .signingKeys: "/admin/signing-keys"
        default: "/admin/" + rawValue
        }
    }

    /// Shown to admins only.
    var adminOnly: Bool {
        switch self {
        case .keys, .clients, .services, .hmac, .requests, .sessions: false
        default: true
        }
    }

    /// True when `caller`'s navigation shows it: admins see every section; others those not for
    /// admins only, and Services only with `manage-own-keys` (the privilege that makes them).
    func isShown(to caller: Caller?) -> Bool {
        guard let caller else { return false }
        if caller.privileges.contains(Privilege.admin) { return true }
        if adminOnly { return false }
        return self != .services || caller.privileges.contains(Privilege.manageOwnKeys)
    }

    /// The sections with pages so far, in navigation order.
    static var served: [Section] { PageRoutes.sections }
}

/// One page route: a method and a path pattern below `/admin/` (`{}` matches one segment).
struct PageRoute: Sendable {
    typealias Handler = @Sendable (AdminAPI) -> (PageContext, [String]) throws -> PageResult
    enum Access: Sendable {
        /// Served signed out (sign-in, assets).
        case open
        /// Needs a session; a state-changing request also the CSRF token and a same-origin browser.
        case session
    }
    let method: String
    let pattern: PathPattern
    let access: Access
    let handler: Handler

    /// A route behind a session.
    init(_ method: String, _ path: String, _ handler: @escaping Handler) {
        self.init(method, path, .session, handler)
    }

    init(_ method: String, _ path: String, _ access: Access, _ handler: @escaping Handler) {
        self.method = method
        self.pattern = PathPattern(path)
        self.access = access
        self.handler = handler
    }

    func match(_ segments: [String]) -> [String]? { pattern.match(segments) }
}

/// Headers of every page: never cached (a page may hold a secret), no inline script or style,
/// no framing, no referrer (DESIGN.md "Admin pages").
enum PageHeaders {
    static let policy =
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    static let all: [(String, String)] = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Cache-Control", "no-store"),
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ]
}

extension AdminAPI {
    /// Serves a page under `/admin/` (anything but the JSON API and reveal links).
    func servePage(_ request: APIRequest, path: String) -> Response {
        let below = path.dropFirst("/admin/".count)
        var segments: [String] = []
        for raw in below.split(separator: "/", omittingEmptySubsequences: false) where !raw.isEmpty {
            guard let bytes = PercentDecoding.decode(raw), let text = String(validating: bytes, as: UTF8.self) else {
                return pageError(request, .noSuchEndpoint, caller: nil)
            }
            segments.append(text)
        }
        let method = request.method == "HEAD" ? "GET" : request.method
        var allowed: [String] = []
        for route in PageRoutes.all {
            guard let captures = route.match(segments) else { continue }
            guard route.method == method else {
                allowed.append(route.method)
                continue
            }
            return runPage(route, request, captures: captures)
        }
        if !allowed.isEmpty {
            var response = pageError(request, .methodNotAllowed(allowed), caller: nil)
            response.headers.append(("Allow", allowed.joined(separator: ", ")))
            return response
        }
        return pageError(request, .noSuchEndpoint, caller: nil)
    }

    private func runPage(_ route: PageRoute, _ request: APIRequest, captures: [String]) -> Response {
        var caller: Caller?
        do {
            var context = PageContext(request: request, mount: config.mount, caller: nil, admin: nil, csrf: "")
            if route.access == .session {
                guard let (signedIn, csrf) = try pageSession(request) else {
                    // Signed out or the session ended: to sign-in, then back here (GET) or home.
                    let next = request.method == "GET" ? config.mount + request.path : nil
                    return redirect(to: config.mount + PageRoutes.signInPath(next: next, ended: !request.sessionCookies.isEmpty))
                }
                caller = signedIn
                if request.isUnsafe {
                    try request.requireSameOrigin()
                    // A body that is no form at all is refused for what it is (413, 415, 400 for
                    // broken escapes or UTF-8) before its token is looked for; nothing runs either
                    // way. No body and no media type is an empty form: it has no token.
                    let empty = request.contentType == nil && request.body?.isEmpty == true
                    let fields = empty ? [] : try request.form([], ignoringOthers: true).values["csrf_token"] ?? []
                    guard fields.count == 1, ConstantTime.equals(Array(fields[0].utf8), Array(csrf.utf8)) else {
                        throw AdminError.csrfFailed
                    }
                }
                request.caller = signedIn
                let (store, _) = try opened()
                let admin = Admin(
                    store: store, keyFile: config.keyFile, clock: clock,
                    actor: .user(signedIn.user, privileges: signedIn.privileges, credential: signedIn.credential),
                    sourceIP: request.address, limits: config.limits)
                admin.mail = config.mail
                context = PageContext(request: request, mount: config.mount, caller: signedIn, admin: admin, csrf: csrf)
            } else if request.isUnsafe {
                try request.requireSameOrigin()
            }
            switch try route.handler(self)(context, captures) {
            case .page(let page): return render(page, context)
            case .redirect(let path): return redirect(to: config.mount + path)
            case .response(let response): return response
            }
        } catch let failure as APIFailure {
            var response = pageError(request, failure.error, caller: caller)
            response.headers += failure.headers
            return response
        } catch {
            if let refusal = AdminError.from(error) { return pageError(request, refusal, caller: caller) }
            log("keyward[KW0502]: admin page failed: \(error)")
            return pageError(request, .internalError, caller: caller)
        }
    }

    /// The session behind a page request and its CSRF token, or nil when there is none (no
    /// cookie, more than one, an ended session, a disabled user).
    func pageSession(_ request: APIRequest) throws -> (Caller, String)? {
        let cookies = request.sessionCookies
        guard cookies.count == 1, let cookie = cookies.first else { return nil }
        do {
            let caller = try authenticateSession(cookie, request, now: clock.now)
            return (caller, Sessions.csrfToken(forSession: cookie, key: csrfKey))
        } catch let error as AdminError where error.status == 401 {
            return nil
        }
    }

    func redirect(to location: String) -> Response {
        Response(status: 303, headers: [("Location", location), ("Cache-Control", "no-store"), ("Content-Length", "0")])
    }

    /// A page in the layout.
    func render(_ page: HTMLPage, _ context: PageContext) -> Response {
        var html = HTML()
        html.markup("<!DOCTYPE html>\n")
        html.element("html", [.init("lang", "en")]) { html in
            html.element("head") { html in
                html.void("meta", [.init("charset", "utf-8")])
                html.void("meta", [.init("name", "viewport"), .init("content", "width=device-width, initial-scale=1")])
                html.void("meta", [.init("name", "referrer"), .init("content", "no-referrer")])
                html.element("title", text: page.title + " · Keyward")
                html.void("link", [.init("rel", "stylesheet"), .init("href", context.link(Assets.stylesheet.path))])
                html.element("script", [.init("src", context.link(Assets.script.path)), "defer"]) { _ in }
            }
            html.element("body") { html in
                html.element("a", [.init("class", "skip"), .init("href", "#main")], text: "Skip to content")
                html.element("header") { html in
                    html.element("div", [.init("class", "bar")]) { html in
                        html.element("a", [.init("class", "brand"), .init("href", context.link("/admin/"))], text: "Keyward")
                        if let caller = context.caller {
                            navigation(&html, context, current: page.section)
                            html.element("form", [.init("method", "post"), .init("action", context.link("/admin/logout"))]) { html in
                                context.csrfField(&html)
                                html.element("span", [.init("class", "muted")], text: caller.user + " ")
                                html.element("button", [.init("type", "submit"), .init("class", "secondary")], text: "Sign out")
                            }
                        }
                    }
                }
                html.element("main", [.init("id", "main")]) { html in
                    html.element("h1", text: page.title)
                    html.append(page.content)
                }
            }
        }
        html.markup("\n")
        return Response(status: page.status, headers: PageHeaders.all + page.headers, body: html.bytes)
    }

    private func navigation(_ html: inout HTML, _ context: PageContext, current: Section?) {
        html.element("nav", [.init("aria-label", "Main")]) { html in
            html.element("ul") { html in
                for section in Section.served where section.isShown(to: context.caller) {
                    html.element("li") { html in
                        var attributes: [HTML.Attribute] = [.init("href", context.link(section.path))]
                        if section == current { attributes.append(.init("aria-current", "page")) }
                        html.element("a", attributes, text: section.title)
                    }
                }
            }
        }
    }

    /// A refusal as a readable page with its stable code; signed-in callers keep the navigation.
    func pageError(_ request: APIRequest, _ error: AdminError, caller: Caller?) -> Response {
        let csrf = caller.flatMap { _ in request.sessionCookies.first.map { Sessions.csrfToken(forSession: $0, key: csrfKey) } } ?? ""
        let context = PageContext(request: request, mount: config.mount, caller: caller, admin: nil, csrf: csrf)
        let page = HTMLPage(Self.errorTitle(error.status), status: error.status) { html in
            html.element("p", [.init("class", "error")], text: error.message)
            html.element("p", [.init("class", "muted")]) { html in
                html.text("Error code: ")
                html.element("code", text: error.code)
            }
            html.element("p") { html in
                html.element("a", [.init("href", context.link(caller == nil ? "/admin/login" : "/admin/"))], text: "Back to Keyward")
            }
        }
        return render(page, context)
    }

    static func errorTitle(_ status: Int) -> String {
        switch status {
        case 400: "The request could not be used"
        case 401: "Sign-in needed"
        case 403: "Not allowed"
        case 404: "Not found"
        case 405: "Method not allowed"
        case 409: "Conflict"
        case 413: "Too large"
        case 415: "Unsupported form"
        case 429: "Too many attempts"
        default: "Something went wrong"
        }
    }
}
