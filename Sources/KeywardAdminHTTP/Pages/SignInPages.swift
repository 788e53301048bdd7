import KeywardAdmin
import KeywardCore
import KeywardGateway

/// Sign-in, sign-out and the assets: the pages served without a session.
enum SignInPages {
    static let routes: [PageRoute] = [
        PageRoute("GET", "login", .open, AdminAPI.signInPage),
        PageRoute("POST", "login", .open, AdminAPI.signInForm),
        PageRoute("POST", "logout", AdminAPI.signOutForm),
        PageRoute("GET", "assets/{}", .open, AdminAPI.asset),
    ]
}

extension AdminAPI {
    func asset(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        guard let asset = Assets.named(captures[0]) else { throw AdminError.noSuchEndpoint }
        return .response(asset.response)
    }

    /// `GET /admin/login`: the form; `?ended=1` says the session ended, `?next=` where to go after.
    func signInPage(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["next", "ended", "signed_out"])
        var notice: String?
        if query["ended"] != nil { notice = "Your session has ended. Sign in again." }
        if query["signed_out"] != nil { notice = "You are signed out." }
        return .page(signInForm(context, next: Self.localNext(query["next"], mount: config.mount), notice: notice, error: nil))
    }

    /// `POST /admin/login`: a session, and a redirect to where the user was going (never off-site).
    func signInForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let form = try context.request.form(["user", "password", "next"])
        let next = Self.localNext(try form.string("next"), mount: config.mount)
        let user = try form.string("user") ?? ""
        do {
            let session = try openSession(user: user, password: try form.string("password") ?? "", context.request)
            let target = next ?? config.mount + "/admin/"
            return .response(
                Response(status: 303, headers: [("Location", target), ("Cache-Control", "no-store"), ("Content-Length", "0")] + session.cookies))
        } catch let error as AdminError where error.status == 401 || error.reason == .invalidArgument {
            var page = signInForm(context, next: next, notice: nil, error: "Unknown user or wrong password.", user: user)
            page.status = 401
            return .page(page)
        }
    }

    /// `POST /admin/logout`: ends the session on the server and clears the cookie.
    func signOutForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.form([])
        guard case .session(let idHash, _)? = context.caller?.via else { throw AdminError.unauthenticated() }
        try context.operations.change("session.delete", target: "user:\(context.user)") {
            try context.operations.store.deleteSession(idHash: idHash)
        }
        return .response(
            Response(
                status: 303,
                headers: [
                    ("Location", config.mount + PageRoutes.signInPath(next: nil, ended: false) + "?signed_out=1"),
                    ("Cache-Control", "no-store"), ("Content-Length", "0"),
                    ("Set-Cookie", Sessions.cookie(nil, config: config, https: context.request.https)),
                ]))
    }

    private func signInForm(_ context: PageContext, next: String?, notice: String?, error: String?, user: String = "") -> HTMLPage {
        HTMLPage("Sign in") { html in
            if let notice { html.element("p", [.init("class", "notice"), .init("role", "status")], text: notice) }
            if let error { html.element("p", [.init("class", "notice bad"), .init("role", "alert"), .init("id", "signin-error")], text: error) }
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link("/admin/login"))]) { html in
                if let next { html.void("input", [.init("type", "hidden"), .init("name", "next"), .init("value", next)]) }
                var described: [HTML.Attribute] = error == nil ? [] : [.init("aria-describedby", "signin-error")]
                html.element("div", [.init("class", "field")]) { html in
                    html.element("label", [.init("for", "user")], text: "User name")
                    described.append(.init("value", user))
                    html.void(
                        "input",
                        [
                            .init("type", "text"), .init("id", "user"), .init("name", "user"), .init("autocomplete", "username"), "required",
                            "autofocus",
                        ]
                            + described)
                }
                html.element("div", [.init("class", "field")]) { html in
                    html.element("label", [.init("for", "password")], text: "Password")
                    html.void(
                        "input",
                        [
                            .init("type", "password"), .init("id", "password"), .init("name", "password"), .init("autocomplete", "current-password"),
                            "required",
                        ])
                }
                html.element("div") { html in html.element("button", [.init("type", "submit")], text: "Sign in") }
            }
        }
    }

    /// `next` when it is a path on this site under the admin pages, else nil: never an open redirect.
    static func localNext(_ next: String?, mount: String) -> String? {
        guard let next, next.hasPrefix(mount + "/admin/"), !next.contains("//"), !next.contains("\\"),
            !next.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }), next.utf8.count <= 512
        else { return nil }
        return next
    }
}
