import KeywardAdmin
import KeywardCore
import KeywardGateway
import KeywardStore

/// "My keys": the list, a new key and its show-once page, and each change behind a
/// confirmation step. Admins see and manage anyone's (`?user=`).
enum KeyPages {
    static let routes: [PageRoute] = [
        PageRoute("GET", "", AdminAPI.keyList),
        PageRoute("GET", "keys/new", AdminAPI.newKeyPage),
        PageRoute("POST", "keys/new", AdminAPI.createKeyForm),
        PageRoute("GET", "keys/{}/{}", AdminAPI.confirmKeyChange),
        PageRoute("POST", "keys/{}/{}", AdminAPI.changeKeyForm),
    ]

    /// Keys per list page.
    static let pageSize = 25

    /// The changes a key's page offers, in the order shown.
    enum Verb: String, CaseIterable {
        case disable, enable, renew, regenerate, delete

        var label: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }

        /// What the confirmation page says will happen.
        var consequence: String {
            switch self {
            case .disable: "Requests with this key are refused from the next one on, until you enable it again."
            case .enable: "The key works again (if it has not expired)."
            case .renew: "The key's expiry moves to the new date; its secret stays the same."
            case .regenerate:
                "A new secret replaces the old one, which stops working at once. The new secret is shown once, on the next page."
            case .delete: "The key is gone for good; requests with it are refused. This cannot be undone."
            }
        }

        /// The notice after it was done.
        var done: String {
            switch self {
            case .disable: "The key is disabled."
            case .enable: "The key is enabled."
            case .renew: "The key is renewed."
            case .regenerate: "The key has a new secret."
            case .delete: "The key is deleted."
            }
        }
    }

    /// Expiry choices: days, or nil for never (offered only where allowed).
    static let presets: [(label: String, days: Int64?)] = [("7 days", 7), ("30 days", 30), ("90 days", 90), ("Never", nil)]
}

extension AdminAPI {
    /// `GET /admin/`: the caller's keys (an admin: `?user=`'s, or everyone's with `?user=*`), newest first, paged.
    func keyList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["user", "page", "done", "key"])
        let admin = context.operations
        let owner = query["user"] ?? context.user
        let everyone = owner == "*" && context.isAdmin
        let rows = Array(try admin.keys(user: everyone ? nil : owner).reversed())
        let pageNumber = max(1, Int(query["page"] ?? "1") ?? 1)
        let pageRows = rows.dropFirst((pageNumber - 1) * KeyPages.pageSize).prefix(KeyPages.pageSize)
        let now = clock.now
        let title = owner == context.user ? "My keys" : everyone ? "All keys" : "Keys of \(owner)"
        return .page(
            HTMLPage(title, section: .keys) { html in
                if let verb = query["done"].flatMap(KeyPages.Verb.init(rawValue:)) {
                    html.element("p", [.init("class", "notice"), .init("role", "status")]) { html in
                        html.text(verb.done + " ")
                        if let id = query["key"] { html.element("code", text: id) }
                    }
                }
                html.element("p", [.init("class", "actions")]) { html in
                    let newLink = owner == context.user || everyone ? "/admin/keys/new" : "/admin/keys/new?user=" + PageContext.encode(owner)
                    html.element("a", [.init("class", "button"), .init("href", context.link(newLink))], text: "New key")
                }
                if context.isAdmin {
                    html.element("form", [.init("method", "get"), .init("action", context.link("/admin/")), .init("class", "actions")]) { html in
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
                    html.element("p", text: "No keys yet.")
                    return
                }
                html.element("div", [.init("class", "table")]) { html in
                    html.element("table", [.init("class", "cards")]) { html in
                        html.element("caption", [.init("class", "muted")], text: "\(rows.count) key\(rows.count == 1 ? "" : "s"), newest first")
                        html.element("thead") { html in
                            html.element("tr") { html in
                                for head in ["Name", "Key", "Scopes", "Expires", "Status", "Last used", "Uses", "Actions"] {
                                    html.element("th", [.init("scope", "col")], text: head)
                                }
                            }
                        }
                        html.element("tbody") { html in
                            for key in pageRows { keyRow(&html, key, context: context, now: now, showOwner: everyone || owner != context.user) }
                        }
                    }
                }
                pager(&html, context, page: pageNumber, total: rows.count, size: KeyPages.pageSize, base: "/admin/?user=" + PageContext.encode(owner))
            })
    }

    private func keyRow(_ html: inout HTML, _ key: KeyRow, context: PageContext, now: Int64, showOwner: Bool) {
        html.element("tr") { html in
            html.element("td", [.init("data-label", "Name")]) { html in
                html.text(key.name)
                if showOwner { html.element("span", [.init("class", "muted")], text: " (" + key.user + ")") }
            }
            html.element("td", [.init("data-label", "Key")]) { html in html.element("code", text: PageFormat.masked(key.id)) }
            html.element("td", [.init("data-label", "Scopes")], text: key.scopes.isEmpty ? "every path" : key.scopes.joined(separator: " "))
            html.element("td", [.init("data-label", "Expires")]) { html in PageFormat.time(&html, key.expiresAt, now: now) }
            let status = key.expiresAt.map { $0 <= now } == true ? "expired" : key.status.rawValue
            html.element("td", [.init("data-label", "Status")]) { html in html.element("span", [.init("class", "status " + status)], text: status) }
            html.element("td", [.init("data-label", "Last used")]) { html in
                PageFormat.time(&html, key.lastUsedAt, now: now)
                if let ip = key.lastUsedIP { html.element("span", [.init("class", "mono")], text: " from " + PageFormat.address(ip)) }
            }
            html.element("td", [.init("data-label", "Uses")], text: String(key.useCount))
            html.element("td", [.init("data-label", "Actions")]) { html in
                html.element("ul", [.init("class", "actions"), .init("aria-label", "Actions for " + key.name)]) { html in
                    // Only an admin enables a key (Admin.change): an owner is not offered it.
                    for verb in KeyPages.Verb.allCases
                    where verb != (key.status == .active ? .enable : .disable) && (verb != .enable || context.isAdmin) {
                        html.element("li") { html in
                            html.element(
                                "a",
                                [
                                    .init("href", context.link("/admin/keys/", key.id, "/" + verb.rawValue)),
                                    .init("aria-label", verb.label + " " + key.name),
                                ],
                                text: verb.label)
                        }
                    }
                }
            }
        }
    }

    /// Previous / next links when a list spans pages.
    func pager(_ html: inout HTML, _ context: PageContext, page: Int, total: Int, size: Int, base: String) {
        let pages = (total + size - 1) / size
        guard pages > 1 else { return }
        let join = base.contains("?") ? "&" : "?"
        html.element("nav", [.init("class", "pager"), .init("aria-label", "Pages")]) { html in
            if page > 1 { html.element("a", [.init("href", context.link(base + join + "page=\(page - 1)"))], text: "← Newer") }
            html.element("span", text: "Page \(page) of \(pages)")
            if page < pages { html.element("a", [.init("href", context.link(base + join + "page=\(page + 1)"))], text: "Older →") }
        }
    }

    // MARK: New key

    /// What the new-key form was sent with, to show it again next to its errors.
    struct KeyDraft {
        var user: String
        var name = ""
        var days: Int64? = 30
        var scopes: [String] = []
        var otherScopes = ""
        var errors: [String: String] = [:]
    }

    func newKeyPage(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["user"])
        let user = context.isAdmin ? query["user"] ?? context.user : context.user
        return .page(try newKeyForm(context, KeyDraft(user: user)))
    }

    private func newKeyForm(_ context: PageContext, _ draft: KeyDraft, status: Int = 200) throws -> HTMLPage {
        let reachable = try context.operations.reachableResources(user: draft.user)
        let maxDays = context.isAdmin ? nil : config.limits.maxSelfServiceLifetime / 86_400
        return HTMLPage("New key", section: .keys, status: status) { html in
            if !draft.errors.isEmpty {
                html.element("p", [.init("class", "notice bad"), .init("role", "alert")], text: "The key was not created: see the marked fields.")
            }
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link("/admin/keys/new"))]) { html in
                context.csrfField(&html)
                if context.isAdmin {
                    field(&html, "user", "Owner", error: draft.errors["user"], hint: "the user the key belongs to") { html, described in
                        html.void(
                            "input",
                            [.init("type", "text"), .init("id", "user"), .init("name", "user"), .init("value", draft.user), "required"] + described)
                    }
                } else {
                    html.void("input", [.init("type", "hidden"), .init("name", "user"), .init("value", draft.user)])
                }
                field(&html, "name", "Name", error: draft.errors["name"], hint: "1 to 100 characters, unique among your keys") { html, described in
                    html.void(
                        "input",
                        [
                            .init("type", "text"), .init("id", "name"), .init("name", "name"), .init("value", draft.name), .init("maxlength", "100"),
                            "required",
                        ]
                            + described)
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
                    html.element("legend", text: "Scopes")
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
                        &html, "other_scopes", "Other scopes", error: nil,
                        hint: "path prefixes such as /api/reports/ or GET:/api/, separated by spaces; none at all means every path"
                    ) { html, described in
                        html.void(
                            "input",
                            [.init("type", "text"), .init("id", "other_scopes"), .init("name", "other_scopes"), .init("value", draft.otherScopes)]
                                + described)
                    }
                }
                html.element("div", [.init("class", "actions")]) { html in
                    html.element("button", [.init("type", "submit")], text: "Create key")
                    html.element("a", [.init("class", "button secondary"), .init("href", context.link("/admin/"))], text: "Cancel")
                }
            }
        }
    }

    /// A labelled field with its hint and error, tied to the input by `aria-describedby`.
    func field(
        _ html: inout HTML, _ id: String, _ label: String, error: String?, hint: String?,
        _ input: (inout HTML, [HTML.Attribute]) -> Void
    ) {
        html.element("div", [.init("class", "field")]) { html in
            html.element("label", [.init("for", id)]) { html in
                html.text(label)
                if let hint { html.element("span", [.init("class", "hint"), .init("id", id + "-hint")], text: hint) }
            }
            var described: [String] = []
            if hint != nil { described.append(id + "-hint") }
            if error != nil { described.append(id + "-error") }
            var attributes: [HTML.Attribute] = described.isEmpty ? [] : [.init("aria-describedby", described.joined(separator: " "))]
            if error != nil { attributes.append(.init("aria-invalid", "true")) }
            input(&html, attributes)
            if let error { html.element("span", [.init("class", "error"), .init("id", id + "-error")], text: error) }
        }
    }

    /// `POST /admin/keys/new`: the key, and its secret shown once; or the form again with the errors.
    func createKeyForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let form = try context.form(["user", "name", "expires", "scope", "other_scopes"])
        var draft = KeyDraft(user: context.isAdmin ? try form.string("user") ?? context.user : context.user)
        draft.name = try form.string("name") ?? ""
        draft.scopes = try form.strings("scope") ?? []
        draft.otherScopes = context.isAdmin ? try form.string("other_scopes") ?? "" : ""
        let expires = try form.string("expires") ?? "30d"
        draft.days = expires == "never" ? nil : Int64(expires.dropLast())
        if draft.name.isEmpty { draft.errors["name"] = "Give the key a name." }
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
            return .page(try newKeyForm(context, draft, status: 400))
        }
        if !draft.errors.isEmpty { return .page(try newKeyForm(context, draft, status: 400)) }
        do {
            let created = try context.operations.createKey(user: draft.user, name: draft.name, expires: lifetime, scopes: scopes, networks: [])
            return .page(showOnce(context, id: created.id, name: created.name, secret: created.secret, scopes: created.scopes, title: "Your new key"))
        } catch let error as AdminError where error.status < 500 {
            let message = error.message
            switch error.reason {
            case .conflict: draft.errors["name"] = message
            case .forbidden where message.contains("scope") || message.contains("resource"): draft.errors["scope"] = message
            case .forbidden where message.contains("days"): draft.errors["expires"] = message
            case .notFound: draft.errors["user"] = message
            default: draft.errors["name"] = message
            }
            return .page(try newKeyForm(context, draft, status: error.status))
        }
    }

    /// What the show-once page says about the credential whose secret it shows.
    enum ShownCredential {
        /// An API key: used as a Bearer token on its first scope; back to the key list.
        case key
        /// An OAuth2 client: exchanged for a token at `<mount>/token`; back to the client list.
        case client
        /// An approved access request's key, collected by its requester: back to the requests.
        case collected

        var idLabel: String { self == .client ? "Client id" : "Key id" }
        var section: Section { self == .client ? .clients : self == .collected ? .requests : .keys }
        var back: (label: String, path: String) {
            switch self {
            case .key: ("Done: back to my keys", "/admin/")
            case .client: ("Done: back to my clients", "/admin/clients")
            case .collected: ("Done: back to access requests", "/admin/requests")
            }
        }
    }

    /// The one page that shows a secret: in the answer to the POST that made it, never cached,
    /// with a copy button and a curl line that uses it.
    func showOnce(
        _ context: PageContext, id: String, name: String, secret: String, scopes: [String], title: String, kind: ShownCredential = .key
    ) -> HTMLPage {
        let scheme = context.request.https ? "https" : "http"
        let host = context.request.host ?? "localhost"
        let path = scopes.first.flatMap(PathScope.init)?.prefix ?? "/"
        let curl =
            kind == .client
            ? "curl -u '\(id):\(secret)' -d grant_type=client_credentials \(scheme)://\(host)\(context.mount)/token"
            : "curl -H 'Authorization: Bearer \(secret)' \(scheme)://\(host)\(path)"
        return HTMLPage(title, section: kind.section) { html in
            html.element("p", [.init("class", "notice warn"), .init("role", "alert")]) { html in
                html.element("strong", text: "Copy the secret now. ")
                html.text("It is shown only on this page and cannot be shown again: Keyward keeps only a hash of it.")
            }
            html.element("dl", [.init("class", "facts")]) { html in
                html.element("dt", text: "Name")
                html.element("dd", text: name)
                html.element("dt", text: kind.idLabel)
                html.element("dd") { html in html.element("code", text: id) }
            }
            html.element("h2", [.init("id", "secret-label")], text: "Secret")
            html.element("div", [.init("class", "secret")]) { html in
                html.element("code", [.init("id", "secret"), .init("aria-labelledby", "secret-label")], text: secret)
                html.element("button", [.init("type", "button"), .init("class", "secondary"), .init("data-copy", "secret"), "hidden"], text: "Copy")
                html.element("span", [.init("id", "secret-status"), .init("role", "status")], text: "")
            }
            html.element("h2", text: "Use it")
            html.element("pre") { html in
                html.element("code", [.init("id", "curl")], text: curl)
            }
            html.element("p") { html in html.element("a", [.init("href", context.link(kind.back.path))], text: kind.back.label) }
        }
    }

    // MARK: Changes

    private func verbAndKey(_ context: PageContext, _ captures: [String]) throws -> (KeyPages.Verb, KeyRow) {
        guard let verb = KeyPages.Verb(rawValue: captures[1]) else { throw AdminError.noSuchEndpoint }
        return (verb, try context.operations.key(captures[0]))
    }

    /// `GET /admin/keys/{id}/{verb}`: what will happen, and the button that does it.
    func confirmKeyChange(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        let (verb, key) = try verbAndKey(context, captures)
        let now = clock.now
        return .page(
            HTMLPage("\(verb.label) key \(key.name)?", section: .keys) { html in
                html.element("dl", [.init("class", "facts")]) { html in
                    html.element("dt", text: "Key")
                    html.element("dd") { html in html.element("code", text: PageFormat.masked(key.id)) }
                    html.element("dt", text: "Owner")
                    html.element("dd", text: key.user)
                    html.element("dt", text: "Expires")
                    html.element("dd") { html in PageFormat.time(&html, key.expiresAt, now: now) }
                }
                html.element("p", text: verb.consequence)
                html.element(
                    "form",
                    [.init("class", "stack"), .init("method", "post"), .init("action", context.link("/admin/keys/", key.id, "/" + verb.rawValue))]
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
                        html.element("a", [.init("class", "button secondary"), .init("href", context.link("/admin/"))], text: "Cancel")
                    }
                }
            })
    }

    /// `POST /admin/keys/{id}/{verb}`: does it; a regenerated key's secret is shown once.
    func changeKeyForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let (verb, key) = try verbAndKey(context, captures)
        let form = try context.form(verb == .renew ? ["expires"] : [])
        let admin = context.operations
        switch verb {
        case .disable: try admin.setKey(key.id, .disable)
        case .enable: try admin.setKey(key.id, .enable)
        case .delete: try admin.setKey(key.id, .delete)
        case .renew:
            guard let lifetime = Lifetime(try form.string("expires") ?? "30d") else { throw AdminError.invalid("Pick one of the expiry choices.") }
            try admin.setKey(key.id, .renew(lifetime))
        case .regenerate:
            let created = try admin.regenerateKey(key.id)
            return .page(
                showOnce(
                    context, id: created.id, name: created.name, secret: created.secret, scopes: created.scopes, title: "New secret for \(key.name)"))
        }
        let owner = key.user == context.user ? "" : "&user=" + PageContext.encode(key.user)
        return .redirect("/admin/?done=\(verb.rawValue)&key=\(PageContext.encode(key.id))\(owner)")
    }
}
