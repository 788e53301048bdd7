import KeywardAdmin
import KeywardCore
import KeywardGateway
import KeywardStore

/// "Access requests": a consumer asks for a resource (with a note); its owner or an admin
/// approves (choosing the key's expiry) or rejects (with a reason), each behind a confirmation
/// step; the consumer sees the outcome and collects the issued key once, on this page or by the
/// mailed link (the same one link: whichever comes first uses it up).
enum RequestPages {
    static let routes: [PageRoute] = [
        PageRoute("GET", "requests", AdminAPI.requestList),
        PageRoute("POST", "requests", AdminAPI.requestAccessForm),
        PageRoute("GET", "requests/{}/{}", AdminAPI.confirmDecision),
        PageRoute("POST", "requests/{}/{}", AdminAPI.decideForm),
    ]

    /// Decided requests per list page.
    static let pageSize = 25

    /// What can be done to a request: decided by its resource's owner or an admin, collected by its requester.
    enum Verb: String {
        case approve, reject, collect
    }

    /// The fixed notices after a change (`?done=`), with what became of the mail (`?mail=`).
    static func notice(_ done: String, id: String, mail: String?) -> String? {
        let told =
            switch mail {
            case "sent": done == "request" ? " Whoever decides was mailed." : " The requester was mailed."
            case "not_sent": " Not every mail could be sent."
            default: ""
            }
        switch done {
        case "request": return "Your request #\(id) is sent to the resource's owner, or the admins." + told
        case "approve": return "Request #\(id) is approved: the requester collects the key once, on this page or by the mailed link." + told
        case "reject": return "Request #\(id) is rejected." + told
        default: return nil
        }
    }
}

extension AdminAPI {
    /// `GET /admin/requests`: the form to ask, the requests waiting for the caller's decision, the
    /// caller's own requests with their outcome (and the key to collect), and the other decided ones.
    func requestList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done", "request", "mail", "page"])
        return .page(try requestPage(context, query: query, draft: RequestDraft()))
    }

    /// What the request form was sent with, to show it again next to its errors.
    struct RequestDraft {
        var resource = ""
        var note = ""
        var errors: [String: String] = [:]
    }

    private func requestPage(_ context: PageContext, query: Query, draft: RequestDraft, status: Int = 200) throws -> HTMLPage {
        let admin = context.operations
        let all = try admin.accessRequests(status: nil).reversed()
        let mine = all.filter { $0.user == context.user }
        let waiting = all.filter { $0.status == "pending" && ($0.user != context.user || context.isAdmin) }
        let decided = all.filter { $0.status != "pending" && $0.user != context.user }
        let pendingMine = Set(mine.filter { $0.status == "pending" }.map(\.resource))
        let resources = try admin.resources().filter { !$0.anonymous }
        var collectable: [Int64: String] = [:]
        for request in mine where request.status == "approved" {
            if let key = try admin.collectableKey(request.id) { collectable[request.id] = key }
        }
        let pageNumber = max(1, Int(query["page"] ?? "1") ?? 1)
        let now = clock.now
        return HTMLPage("Access requests", section: .requests, status: status) { html in
            if let done = query["done"], let id = query["request"], id.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), id.utf8.count <= 18,
                let notice = RequestPages.notice(done, id: id, mail: query["mail"])
            {
                html.element("p", [.init("class", "notice"), .init("role", "status")], text: notice)
            }

            html.element("h2", [.init("id", "ask")], text: "Ask for access")
            if !draft.errors.isEmpty {
                html.element("p", [.init("class", "notice bad"), .init("role", "alert")], text: "The request was not sent: see the marked fields.")
            }
            if resources.isEmpty {
                html.element("p", [.init("class", "muted")], text: "There are no resources to ask for yet.")
            } else {
                html.element(
                    "form",
                    [
                        .init("class", "stack"), .init("method", "post"), .init("action", context.link("/admin/requests")),
                        .init("aria-labelledby", "ask"),
                    ]
                ) { html in
                    context.csrfField(&html)
                    html.element("fieldset", draft.errors["resource"] == nil ? [] : [.init("aria-describedby", "resource-error")]) { html in
                        html.element("legend", text: "Resource")
                        for (index, resource) in resources.enumerated() {
                            let id = "resource-\(index)"
                            var attributes: [HTML.Attribute] = [
                                .init("type", "radio"), .init("id", id), .init("name", "resource"), .init("value", resource.name), "required",
                            ]
                            if resource.name == draft.resource { attributes.append("checked") }
                            if pendingMine.contains(resource.name) { attributes.append("disabled") }
                            html.element("div") { html in
                                html.void("input", attributes)
                                html.element("label", [.init("for", id)]) { html in
                                    html.text(resource.name + " ")
                                    html.element(
                                        "code", text: (resource.methods.isEmpty ? "" : resource.methods.joined(separator: ",") + " ") + resource.path)
                                    if let owner = resource.owner { html.element("span", [.init("class", "muted")], text: " owned by " + owner) }
                                    if pendingMine.contains(resource.name) {
                                        html.element("span", [.init("class", "muted")], text: " (asked already)")
                                    }
                                }
                            }
                        }
                        if let error = draft.errors["resource"] {
                            html.element("span", [.init("class", "error"), .init("id", "resource-error")], text: error)
                        }
                    }
                    field(&html, "note", "Note", error: draft.errors["note"], hint: "why you need it, for whoever decides (optional, one line)") {
                        html, described in
                        html.element(
                            "textarea",
                            [.init("id", "note"), .init("name", "note"), .init("rows", "2"), .init("maxlength", String(config.limits.maxNoteLength))]
                                + described,
                            text: draft.note)
                    }
                    html.element("div") { html in html.element("button", [.init("type", "submit")], text: "Ask for access") }
                }
            }

            if !waiting.isEmpty || context.isAdmin {
                html.element("h2", text: "Waiting for your decision")
                if waiting.isEmpty {
                    html.element("p", [.init("class", "muted")], text: "Nothing is waiting.")
                } else {
                    requestTable(&html, Array(waiting), context: context, now: now, caption: "\(waiting.count) pending, newest first", decide: true)
                }
            }

            html.element("h2", text: "Your requests")
            if mine.isEmpty {
                html.element("p", [.init("class", "muted")], text: "You have not asked for anything yet.")
            } else {
                requestTable(&html, Array(mine), context: context, now: now, caption: "newest first", collectable: collectable)
            }

            if !decided.isEmpty {
                html.element("h2", text: "Decided")
                let shown = Array(decided.dropFirst((pageNumber - 1) * RequestPages.pageSize).prefix(RequestPages.pageSize))
                requestTable(&html, shown, context: context, now: now, caption: "\(decided.count) decided, newest first")
                pager(&html, context, page: pageNumber, total: decided.count, size: RequestPages.pageSize, base: "/admin/requests")
            }
        }
    }

    private func requestTable(
        _ html: inout HTML, _ rows: [AccessRequestRow], context: PageContext, now: Int64, caption: String, decide: Bool = false,
        collectable: [Int64: String]? = nil
    ) {
        html.element("div", [.init("class", "table")]) { html in
            html.element("table", [.init("class", "cards")]) { html in
                html.element("caption", [.init("class", "muted")], text: caption)
                html.element("thead") { html in
                    html.element("tr") { html in
                        for head in ["Request", "User", "Resource", "Note", "Asked", "Status", "Key", decide || collectable != nil ? "Actions" : nil]
                            .compactMap({ $0 })
                        {
                            html.element("th", [.init("scope", "col")], text: head)
                        }
                    }
                }
                html.element("tbody") { html in
                    for r in rows {
                        html.element("tr") { html in
                            html.element("td", [.init("data-label", "Request")], text: "#\(r.id)")
                            html.element("td", [.init("data-label", "User")], text: r.user)
                            html.element("td", [.init("data-label", "Resource")], text: r.resource)
                            html.element("td", [.init("data-label", "Note")], text: r.note ?? "")
                            html.element("td", [.init("data-label", "Asked")]) { html in PageFormat.time(&html, r.createdAt, now: now) }
                            html.element("td", [.init("data-label", "Status")]) { html in
                                html.element("span", [.init("class", "status " + r.status)], text: r.status)
                                if let by = r.decidedBy, let at = r.decidedAt {
                                    html.element("span", [.init("class", "muted")], text: " by " + by + " ")
                                    PageFormat.time(&html, at, now: now)
                                }
                            }
                            html.element("td", [.init("data-label", "Key")]) { html in
                                if let key = r.keyId {
                                    html.element("code", text: PageFormat.masked(key))
                                    html.element("span", [.init("class", "muted")], text: " expires ")
                                    PageFormat.time(&html, r.expiresAt, now: now)
                                }
                            }
                            if decide {
                                html.element("td", [.init("data-label", "Actions")]) { html in
                                    html.element("ul", [.init("class", "actions"), .init("aria-label", "Decide request #\(r.id)")]) { html in
                                        for (verb, label) in [(RequestPages.Verb.approve, "Approve"), (.reject, "Reject")] {
                                            html.element("li") { html in
                                                html.element(
                                                    "a",
                                                    [
                                                        .init("href", context.link("/admin/requests/", String(r.id), "/" + verb.rawValue)),
                                                        .init("aria-label", "\(label) request #\(r.id)"),
                                                    ],
                                                    text: label)
                                            }
                                        }
                                    }
                                }
                            } else if let collectable {
                                html.element("td", [.init("data-label", "Actions")]) { html in
                                    if collectable[r.id] != nil {
                                        context.button(&html, "Collect your key", action: context.link("/admin/requests/", String(r.id), "/collect"))
                                    } else if r.status == "approved" {
                                        html.element(
                                            "span", [.init("class", "muted")],
                                            text: "Key collected, or no longer waiting (keys wait \(config.limits.revealLinkLifetime / 3_600) hours)."
                                        )
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `POST /admin/requests`: asks for the chosen resource, for the caller; or the form again with the errors.
    func requestAccessForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let form = try context.form(["resource", "note"])
        var draft = RequestDraft(resource: try form.string("resource") ?? "", note: try form.string("note") ?? "")
        if draft.resource.isEmpty { draft.errors["resource"] = "Pick the resource you need." }
        if !draft.errors.isEmpty { return .page(try requestPage(context, query: try Query(nil, allowed: []), draft: draft, status: 400)) }
        let admin = context.operations
        do {
            let request = try admin.requestAccess(user: context.user, resource: draft.resource, note: draft.note)
            return .redirect("/admin/requests?done=request&request=\(request.id)" + Self.mailOutcome(admin, "access.request"))
        } catch let error as AdminError where error.status < 500 {
            draft.errors[error.message.hasPrefix("a note") ? "note" : "resource"] = error.message
            return .page(try requestPage(context, query: try Query(nil, allowed: []), draft: draft, status: error.status))
        }
    }

    /// `&mail=sent` when every notification went, `&mail=not_sent` when one did not, nothing without any.
    static func mailOutcome(_ admin: Admin, _ about: String) -> String {
        let notices = admin.notices.filter { $0.about == about }
        if notices.isEmpty { return "" }
        return notices.allSatisfy { $0.result == "sent" } ? "&mail=sent" : "&mail=not_sent"
    }

    private func verbAndRequest(_ context: PageContext, _ captures: [String]) throws -> (RequestPages.Verb, AccessRequestRow) {
        guard let verb = RequestPages.Verb(rawValue: captures[1]) else { throw AdminError.noSuchEndpoint }
        return (verb, try context.operations.accessRequest(try Self.requestId(captures[0])))
    }

    /// `GET /admin/requests/{id}/approve|reject`: the request, the expiry or reason, and the button.
    func confirmDecision(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        let (verb, request) = try verbAndRequest(context, captures)
        guard verb != .collect else { throw AdminError.noSuchEndpoint }
        guard request.status == "pending" else { throw AdminError.conflict("access request #\(request.id) is already \(request.status)") }
        if !context.isAdmin && request.user == context.user {
            throw AdminError.forbidden("You cannot decide your own access request; the owner of \(request.resource) or an admin does.")
        }
        let now = clock.now
        let approve = verb == .approve
        return .page(
            HTMLPage("\(approve ? "Approve" : "Reject") request #\(request.id)?", section: .requests) { html in
                html.element("dl", [.init("class", "facts")]) { html in
                    html.element("dt", text: "User")
                    html.element("dd", text: request.user)
                    html.element("dt", text: "Resource")
                    html.element("dd", text: request.resource)
                    html.element("dt", text: "Note")
                    html.element("dd", text: request.note ?? "none")
                    html.element("dt", text: "Asked")
                    html.element("dd") { html in PageFormat.time(&html, request.createdAt, now: now) }
                }
                html.element(
                    "p",
                    text: approve
                        ? "\(request.user) gets a key for \(request.resource) that expires as chosen, and may call it until then. They collect the secret once."
                        : "\(request.user) is told the request was rejected, with your reason.")
                html.element(
                    "form",
                    [
                        .init("class", "stack"), .init("method", "post"),
                        .init("action", context.link("/admin/requests/", String(request.id), "/" + verb.rawValue)),
                    ]
                ) { html in
                    context.csrfField(&html)
                    if approve {
                        expiryChoices(&html, context, legend: "The key expires after")
                    } else {
                        field(&html, "reason", "Reason", error: nil, hint: "told to \(request.user) (optional, one line)") { html, described in
                            html.element(
                                "textarea",
                                [
                                    .init("id", "reason"), .init("name", "reason"), .init("rows", "2"),
                                    .init("maxlength", String(config.limits.maxNoteLength)),
                                ]
                                    + described, text: "")
                        }
                    }
                    html.element("div", [.init("class", "actions")]) { html in
                        html.element(
                            "button", [.init("type", "submit")] + (approve ? [] : [.init("class", "danger")]), text: approve ? "Approve" : "Reject")
                        html.element("a", [.init("class", "button secondary"), .init("href", context.link("/admin/requests"))], text: "Cancel")
                    }
                }
            })
    }

    /// `POST /admin/requests/{id}/approve|reject|collect`: decides (then back to the list), or
    /// shows the approved key's secret to its requester, once.
    func decideForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let (verb, request) = try verbAndRequest(context, captures)
        let admin = context.operations
        switch verb {
        case .approve:
            let form = try context.form(["expires"])
            guard let choice = ExpiryChoice.sent(try form.string("expires")) else { throw AdminError.invalid("Pick one of the expiry choices.") }
            _ = try admin.approveAccess(request.id, expires: choice.lifetime)
            return .redirect("/admin/requests?done=approve&request=\(request.id)" + Self.mailOutcome(admin, "access.approve"))
        case .reject:
            let form = try context.form(["reason"])
            _ = try admin.rejectAccess(request.id, reason: try form.string("reason"))
            return .redirect("/admin/requests?done=reject&request=\(request.id)" + Self.mailOutcome(admin, "access.reject"))
        case .collect:
            _ = try context.form([])
            do {
                let (keyId, secret) = try admin.collectKey(request.id)
                let key = try admin.key(keyId)
                return .page(
                    showOnce(
                        context, IssuedSecret(id: keyId, name: key.name, secret: secret, scopes: key.scopes),
                        title: "Your key for \(request.resource)", kind: .collected))
            } catch let error as AdminError where error == .linkGone {
                return .page(
                    HTMLPage("Nothing to collect", section: .requests, status: 410) { html in
                        html.element(
                            "p", [.init("class", "notice bad"), .init("role", "alert")],
                            text: "The key of request #\(request.id) was collected already, or its time to be collected is over.")
                        html.element(
                            "p",
                            text: "Lost it? Ask the owner of \(request.resource) or an administrator for a new secret (the key's regenerate).")
                        html.element("p") { html in
                            html.element("a", [.init("href", context.link("/admin/requests"))], text: "Back to access requests")
                        }
                    })
            }
        }
    }
}
