import KeywardAdmin
import KeywardCore
import KeywardGateway
import KeywardStore

/// "Sessions": where the signed-in user is signed in (the current session marked), each with a
/// button that ends it. Admins see and end anyone's (`?user=`, `*` for everyone's).
enum SessionPages {
    static let routes: [PageRoute] = [
        PageRoute("GET", "sessions", AdminAPI.sessionList),
        PageRoute("POST", "sessions/{}/revoke", AdminAPI.revokeSessionForm),
    ]
}

extension AdminAPI {
    /// `GET /admin/sessions`: the caller's live sessions, newest first (an admin: `?user=`'s, or everyone's with `?user=*`).
    func sessionList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["user", "done"])
        let owner = query["user"] ?? context.user
        let everyone = owner == "*" && context.isAdmin
        let rows = try context.operations.sessions(user: everyone ? nil : owner)
        let current = context.caller?.credential
        let now = clock.now
        let limits = config.limits
        let title = owner == context.user ? "My sessions" : everyone ? "All sessions" : "Sessions of \(owner)"
        return .page(
            HTMLPage(title, section: .sessions) { html in
                if query["done"] == "revoke" {
                    html.element("p", [.init("class", "notice"), .init("role", "status")], text: "The session is ended.")
                }
                html.element(
                    "p", [.init("class", "muted")],
                    text: "A session ends after \(limits.sessionIdle / 60) minutes without use, and \(limits.sessionLifetime / 3_600) hours "
                        + "after signing in at the latest. End one you do not recognise, then change your password.")
                ownerFilter(&html, context, action: "/admin/sessions", label: "User", owner: owner)
                if rows.isEmpty {
                    html.element("p", text: "No sessions.")
                    return
                }
                html.element("div", [.init("class", "table")]) { html in
                    html.element("table", [.init("class", "cards")]) { html in
                        html.element(
                            "caption", [.init("class", "muted")], text: "\(rows.count) session\(rows.count == 1 ? "" : "s"), newest first")
                        html.element("thead") { html in
                            html.element("tr") { html in
                                for head in ["Session", "User", "Signed in", "Last used", "Ends unless used", "Ends at the latest", "Actions"] {
                                    html.element("th", [.init("scope", "col")], text: head)
                                }
                            }
                        }
                        html.element("tbody") { html in
                            for session in rows {
                                let isCurrent = session.id == current
                                html.element("tr") { html in
                                    html.element("td", [.init("data-label", "Session")]) { html in
                                        html.element("code", text: session.id)
                                        if isCurrent { html.element("span", [.init("class", "status active")], text: "this session") }
                                    }
                                    html.element("td", [.init("data-label", "User")], text: session.user)
                                    html.element("td", [.init("data-label", "Signed in")]) { html in
                                        PageFormat.time(&html, session.createdAt, now: now)
                                    }
                                    html.element("td", [.init("data-label", "Last used")]) { html in
                                        PageFormat.time(&html, isCurrent ? now : session.lastSeenAt, now: now)
                                    }
                                    html.element("td", [.init("data-label", "Ends unless used")]) { html in
                                        let idleEnd = (isCurrent ? now : session.lastSeenAt) + limits.sessionIdle
                                        PageFormat.time(&html, min(idleEnd, session.expiresAt), now: now)
                                    }
                                    html.element("td", [.init("data-label", "Ends at the latest")]) { html in
                                        PageFormat.time(&html, session.expiresAt, now: now)
                                    }
                                    html.element("td", [.init("data-label", "Actions")]) { html in
                                        context.button(
                                            &html, isCurrent ? "End (sign out)" : "End session",
                                            action: context.link("/admin/sessions/", session.id, "/revoke"), style: "danger")
                                    }
                                }
                            }
                        }
                    }
                }
            })
    }

    /// `POST /admin/sessions/{id}/revoke`: ends the session; ending the one in use signs out.
    func revokeSessionForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.form([])
        let ended = try context.operations.revokeSession(captures[0])
        if ended.id == context.caller?.credential {
            return .response(
                Response(
                    status: 303,
                    headers: [
                        ("Location", config.mount + "/admin/login?signed_out=1"), ("Cache-Control", "no-store"), ("Content-Length", "0"),
                        ("Set-Cookie", Sessions.cookie(nil, config: config, https: context.request.https)),
                    ]))
        }
        let owner = ended.user == context.user ? "" : "&user=" + PageContext.encode(ended.user)
        return .redirect("/admin/sessions?done=revoke" + owner)
    }
}
