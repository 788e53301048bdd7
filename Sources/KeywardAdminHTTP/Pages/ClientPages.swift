import Foundation
import KeywardAdmin
import KeywardCore
import KeywardGateway
import KeywardStore

/// "Clients": OAuth2 clients (client-credentials grant) the way "My keys" has keys: the list, a
/// new client and its secret shown once, and each change behind a confirmation step. Admins see
/// and manage anyone's (`?user=`).
enum ClientPages {
    static let routes: [PageRoute] = [
        PageRoute("GET", "clients", AdminAPI.clientList),
        PageRoute("GET", "clients/new", AdminAPI.newClientPage),
        PageRoute("POST", "clients/new", AdminAPI.createClientForm),
        PageRoute("GET", "clients/{}/{}", AdminAPI.confirmClientChange),
        PageRoute("POST", "clients/{}/{}", AdminAPI.changeClientForm),
    ]

    /// Clients per list page.
    static let pageSize = 25

    /// The changes a client's row offers, in the order shown.
    enum Verb: String, CaseIterable {
        case disable, enable, renew, regenerate, delete

        var label: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }

        /// What the confirmation page says will happen.
        var consequence: String {
            switch self {
            case .disable: "The client gets no new tokens from now on, and the tokens it holds are refused, until you enable it again."
            case .enable: "The client gets tokens again (if it has not expired)."
            case .renew: "The client's expiry moves to the new date; its secret stays the same."
            case .regenerate:
                "A new secret replaces the old one, which stops working at once, and every token issued with it is revoked. The new secret is shown once, on the next page."
            case .delete: "The client is gone for good, and its tokens are refused. This cannot be undone."
            }
        }

        /// The notice after it was done.
        var done: String {
            switch self {
            case .disable: "The client is disabled."
            case .enable: "The client is enabled."
            case .renew: "The client is renewed."
            case .regenerate: "The client has a new secret."
            case .delete: "The client is deleted."
            }
        }
    }
}

extension AdminAPI {
    /// `GET /admin/clients`: the caller's clients (an admin: `?user=`'s, or everyone's with `?user=*`), newest first, paged.
    func clientList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["user", "page", "done", "client"])
        let owner = query["user"] ?? context.user
        let everyone = owner == "*" && context.isAdmin
        let rows = Array(
            try context.operations.clients(user: everyone ? nil : owner).sorted { ($0.createdAt, $0.clientId) > ($1.createdAt, $1.clientId) })
        let pageNumber = max(1, Int(query["page"] ?? "1") ?? 1)
        let pageRows = rows.dropFirst((pageNumber - 1) * ClientPages.pageSize).prefix(ClientPages.pageSize)
        let now = clock.now
        let title = owner == context.user ? "My clients" : everyone ? "All clients" : "Clients of \(owner)"
        return .page(
            HTMLPage(title, section: .clients) { html in
                if let verb = query["done"].flatMap(ClientPages.Verb.init(rawValue:)) {
                    html.element("p", [.init("class", "notice"), .init("role", "status")]) { html in
                        html.text(verb.done + " ")
                        if let id = query["client"] { html.element("code", text: id) }
                    }
                }
                html.element(
                    "p", [.init("class", "muted")],
                    text: "An OAuth2 client gets short-lived access tokens with its id and secret (the client-credentials grant).")
                html.element("p", [.init("class", "actions")]) { html in
                    let newLink = owner == context.user || everyone ? "/admin/clients/new" : "/admin/clients/new?user=" + PageContext.encode(owner)
                    html.element("a", [.init("class", "button"), .init("href", context.link(newLink))], text: "New client")
                }
                if context.isAdmin {
                    html.element("form", [.init("method", "get"), .init("action", context.link("/admin/clients")), .init("class", "actions")]) {
                        html in
                        html.element("label", [.init("for", "owner")], text: "Owner")
                        html.void(
                            "input",
                            [
                                .init("type", "text"), .init("id", "owner"), .init("name", "user"), .init("value", owner),
                                .init("aria-describedby", "owner-hint"),
                            ])
                        html.element("span", [.init("id", "owner-hint"), .init("class", "hint muted")], text: "a user name, or * for everyone")
                        html.element("button", [.init("type", "submit"), .init("class", "secondary")], text: "Show")
                    }
                }
                if rows.isEmpty {
                    html.element("p", text: "No clients yet.")
                    return
                }
                html.element("div", [.init("class", "table")]) { html in
                    html.element("table", [.init("class", "cards")]) { html in
                        html.element(
                            "caption", [.init("class", "muted")], text: "\(rows.count) client\(rows.count == 1 ? "" : "s"), newest first")
                        html.element("thead") { html in
                            html.element("tr") { html in
                                for head in ["Name", "Client id", "Scopes", "Expires", "Status", "Last token", "Tokens", "Actions"] {
                                    html.element("th", [.init("scope", "col")], text: head)
                                }
                            }
                        }
                        html.element("tbody") { html in
                            for client in pageRows {
                                clientRow(&html, client, context: context, now: now, showOwner: everyone || owner != context.user)
                            }
                        }
                    }
                }
                pager(
                    &html, context, page: pageNumber, total: rows.count, size: ClientPages.pageSize,
                    base: "/admin/clients?user=" + PageContext.encode(owner))
            })
    }

    private func clientRow(_ html: inout HTML, _ client: ClientRow, context: PageContext, now: Int64, showOwner: Bool) {
        html.element("tr") { html in
            html.element("td", [.init("data-label", "Name")]) { html in
                html.text(client.name)
                if showOwner { html.element("span", [.init("class", "muted")], text: " (" + client.user + ")") }
            }
            html.element("td", [.init("data-label", "Client id")]) { html in html.element("code", text: client.clientId) }
            html.element("td", [.init("data-label", "Scopes")], text: client.scopes.isEmpty ? "every path" : client.scopes.joined(separator: " "))
            html.element("td", [.init("data-label", "Expires")]) { html in PageFormat.time(&html, client.expiresAt, now: now) }
            let status = client.expiresAt.map { $0 <= now } == true ? "expired" : client.status.rawValue
            html.element("td", [.init("data-label", "Status")]) { html in html.element("span", [.init("class", "status " + status)], text: status) }
            html.element("td", [.init("data-label", "Last token")]) { html in PageFormat.time(&html, client.lastUsedAt, now: now) }
            html.element("td", [.init("data-label", "Tokens")], text: String(client.useCount))
            html.element("td", [.init("data-label", "Actions")]) { html in
                html.element("ul", [.init("class", "actions"), .init("aria-label", "Actions for " + client.name)]) { html in
                    for verb in ClientPages.Verb.allCases where verb != (client.status == .active ? .enable : .disable) {
                        html.element("li") { html in
                            html.element(
                                "a",
                                [
                                    .init("href", context.link("/admin/clients/", client.clientId, "/" + verb.rawValue)),
                                    .init("aria-label", verb.label + " " + client.name),
                                ],
                                text: verb.label)
                        }
                    }
                }
            }
        }
    }

    // MARK: New client

    func newClientPage(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["user"])
        let user = context.isAdmin ? query["user"] ?? context.user : context.user
        return .page(try newClientForm(context, KeyDraft(user: user)))
    }

    /// The new-client form: the new-key form's fields (name, expiry presets, scopes).
    private func newClientForm(_ context: PageContext, _ draft: KeyDraft, status: Int = 200) throws -> HTMLPage {
        let reachable = try context.operations.reachableResources(user: draft.user)
        let maxDays = context.isAdmin ? nil : config.limits.maxSelfServiceLifetime / 86_400
        return HTMLPage("New client", section: .clients, status: status) { html in
            if !draft.errors.isEmpty {
                html.element("p", [.init("class", "notice bad"), .init("role", "alert")], text: "The client was not created: see the marked fields.")
            }
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link("/admin/clients/new"))]) { html in
                context.csrfField(&html)
                if context.isAdmin {
                    field(&html, "user", "Owner", error: draft.errors["user"], hint: "the user the client belongs to") { html, described in
                        html.void(
                            "input",
                            [.init("type", "text"), .init("id", "user"), .init("name", "user"), .init("value", draft.user), "required"] + described)
                    }
                } else {
                    html.void("input", [.init("type", "hidden"), .init("name", "user"), .init("value", draft.user)])
                }
                field(&html, "name", "Name", error: draft.errors["name"], hint: "1 to 100 characters, unique among your clients") {
                    html, described in
                    html.void(
                        "input",
                        [
                            .init("type", "text"), .init("id", "name"), .init("name", "name"), .init("value", draft.name), .init("maxlength", "100"),
                            "required",
                        ] + described)
                }
                html.element("fieldset", draft.errors["expires"] == nil ? [] : [.init("aria-describedby", "expires-error")]) { html in
                    html.element("legend", text: "Expires after")
                    for preset in KeyPages.presets {
                        if let maxDays, (preset.days ?? .max) > maxDays { continue }
                        let id = "expires-" + (preset.days.map(String.init) ?? "never")
                        var attributes: [HTML.Attribute] = [
                            .init("type", "radio"), .init("id", id), .init("name", "expires"),
                            .init("value", preset.days.map { "\($0)d" } ?? "never"),
                        ]
                        if preset.days == draft.days { attributes.append("checked") }
                        html.void("input", attributes)
                        html.element("label", [.init("for", id)], text: preset.label)
                    }
                    if let error = draft.errors["expires"] {
                        html.element("span", [.init("class", "error"), .init("id", "expires-error")], text: error)
                    }
                }
                html.element("fieldset", draft.errors["scope"] == nil ? [] : [.init("aria-describedby", "scope-error")]) { html in
                    html.element("legend", text: "Scopes its tokens carry")
                    if reachable.isEmpty {
                        html.element(
                            "p", [.init("class", "muted")],
                            text: context.isAdmin
                                ? "No resources are registered for this user; name paths below, or none for every path."
                                : "You may not call any resource yet: ask for access first.")
                    }
                    for (index, resource) in reachable.enumerated() {
                        let id = "scope-\(index)"
                        var attributes: [HTML.Attribute] = [
                            .init("type", "checkbox"), .init("id", id), .init("name", "scope"), .init("value", resource.scope.description),
                        ]
                        if draft.scopes.contains(resource.scope.description) { attributes.append("checked") }
                        html.element("div") { html in
                            html.void("input", attributes)
                            html.element("label", [.init("for", id)]) { html in
                                html.text(resource.name + " ")
                                html.element("code", text: resource.scope.description)
                            }
                        }
                    }
                    if let error = draft.errors["scope"] { html.element("span", [.init("class", "error"), .init("id", "scope-error")], text: error) }
                }
                if context.isAdmin {
                    field(
                        &html, "other_scopes", "Other scopes", error: draft.errors["other_scopes"],
                        hint: "path prefixes such as /api/reports/ or GET:/api/, separated by spaces; none at all means every path"
                    ) { html, described in
                        html.void(
                            "input",
                            [.init("type", "text"), .init("id", "other_scopes"), .init("name", "other_scopes"), .init("value", draft.otherScopes)]
                                + described)
                    }
                }
                html.element("div", [.init("class", "actions")]) { html in
                    html.element("button", [.init("type", "submit")], text: "Create client")
                    html.element("a", [.init("class", "button secondary"), .init("href", context.link("/admin/clients"))], text: "Cancel")
                }
            }
        }
    }

    /// `POST /admin/clients/new`: the client, and its secret shown once; or the form again with the errors.
    func createClientForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let form = try context.form(["user", "name", "expires", "scope", "other_scopes"])
        var draft = KeyDraft(user: context.isAdmin ? try form.string("user") ?? context.user : context.user)
        draft.name = try form.string("name") ?? ""
        draft.scopes = try form.strings("scope") ?? []
        draft.otherScopes = context.isAdmin ? try form.string("other_scopes") ?? "" : ""
        let expires = try form.string("expires") ?? "30d"
        draft.days = expires == "never" ? nil : Int64(expires.dropLast())
        if draft.name.isEmpty { draft.errors["name"] = "Give the client a name." }
        var scopes: [PathScope] = []
        for text in draft.scopes + draft.otherScopes.split(separator: " ").map(String.init) {
            guard let scope = PathScope(text) else {
                draft.errors[draft.scopes.contains(text) ? "scope" : "other_scopes"] = "Not a path scope: \(text.prefix(64))"
                continue
            }
            scopes.append(scope)
        }
        guard let lifetime = Lifetime(expires), expires == "never" || KeyPages.presets.contains(where: { $0.days == draft.days }) else {
            draft.errors["expires"] = "Pick one of the choices."
            return .page(try newClientForm(context, draft, status: 400))
        }
        if !draft.errors.isEmpty { return .page(try newClientForm(context, draft, status: 400)) }
        do {
            let created = try context.operations.createClient(user: draft.user, name: draft.name, expires: lifetime, scopes: scopes)
            return .page(
                showOnce(
                    context, id: created.clientId, name: created.name, secret: created.clientSecret, scopes: created.scopes,
                    title: "Your new client", kind: .client))
        } catch let error as AdminError where error.status < 500 {
            // The rules are the keys' own, and so are their words.
            let message = error.message.replacingOccurrences(of: #"\bkey\b"#, with: "client", options: .regularExpression)
            switch error.reason {
            case .conflict: draft.errors["name"] = message
            case .forbidden where message.contains("scope") || message.contains("resource"): draft.errors["scope"] = message
            case .forbidden where message.contains("days"): draft.errors["expires"] = message
            case .notFound: draft.errors["user"] = message
            default: draft.errors["name"] = message
            }
            return .page(try newClientForm(context, draft, status: error.status))
        }
    }

    // MARK: Changes

    private func verbAndClient(_ context: PageContext, _ captures: [String]) throws -> (ClientPages.Verb, ClientRow) {
        guard let verb = ClientPages.Verb(rawValue: captures[1]) else { throw AdminError.noSuchEndpoint }
        return (verb, try context.operations.client(captures[0]))
    }

    /// `GET /admin/clients/{id}/{verb}`: what will happen, and the button that does it.
    func confirmClientChange(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        let (verb, client) = try verbAndClient(context, captures)
        let now = clock.now
        return .page(
            HTMLPage("\(verb.label) client \(client.name)?", section: .clients) { html in
                html.element("dl", [.init("class", "facts")]) { html in
                    html.element("dt", text: "Client id")
                    html.element("dd") { html in html.element("code", text: client.clientId) }
                    html.element("dt", text: "Owner")
                    html.element("dd", text: client.user)
                    html.element("dt", text: "Expires")
                    html.element("dd") { html in PageFormat.time(&html, client.expiresAt, now: now) }
                }
                html.element("p", text: verb.consequence)
                html.element(
                    "form",
                    [
                        .init("class", "stack"), .init("method", "post"),
                        .init("action", context.link("/admin/clients/", client.clientId, "/" + verb.rawValue)),
                    ]
                ) { html in
                    context.csrfField(&html)
                    if verb == .renew {
                        html.element("fieldset") { html in
                            html.element("legend", text: "New expiry, from now")
                            let maxDays = context.isAdmin ? nil : config.limits.maxSelfServiceLifetime / 86_400
                            for preset in KeyPages.presets {
                                if let maxDays, (preset.days ?? .max) > maxDays { continue }
                                let id = "expires-" + (preset.days.map(String.init) ?? "never")
                                var attributes: [HTML.Attribute] = [
                                    .init("type", "radio"), .init("id", id), .init("name", "expires"),
                                    .init("value", preset.days.map { "\($0)d" } ?? "never"),
                                ]
                                if preset.days == 30 { attributes.append("checked") }
                                html.void("input", attributes)
                                html.element("label", [.init("for", id)], text: preset.label)
                            }
                        }
                    }
                    html.element("div", [.init("class", "actions")]) { html in
                        html.element("button", [.init("type", "submit")] + (verb == .delete ? [.init("class", "danger")] : []), text: verb.label)
                        html.element("a", [.init("class", "button secondary"), .init("href", context.link("/admin/clients"))], text: "Cancel")
                    }
                }
            })
    }

    /// `POST /admin/clients/{id}/{verb}`: does it; a regenerated client's secret is shown once.
    func changeClientForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let (verb, client) = try verbAndClient(context, captures)
        let form = try context.form(verb == .renew ? ["expires"] : [])
        let admin = context.operations
        switch verb {
        case .disable: try admin.setClient(client.clientId, .disable)
        case .enable: try admin.setClient(client.clientId, .enable)
        case .delete: try admin.setClient(client.clientId, .delete)
        case .renew:
            let expires = try form.string("expires") ?? "30d"
            guard let lifetime = Lifetime(expires), expires == "never" || KeyPages.presets.contains(where: { "\($0.days ?? 0)d" == expires })
            else { throw AdminError.invalid("Pick one of the expiry choices.") }
            try admin.setClient(client.clientId, .renew(lifetime))
        case .regenerate:
            let created = try admin.regenerateClient(client.clientId)
            return .page(
                showOnce(
                    context, id: created.clientId, name: created.name, secret: created.clientSecret, scopes: created.scopes,
                    title: "New secret for \(client.name)", kind: .client))
        }
        let owner = client.user == context.user ? "" : "&user=" + PageContext.encode(client.user)
        return .redirect("/admin/clients?done=\(verb.rawValue)&client=\(PageContext.encode(client.clientId))\(owner)")
    }
}
