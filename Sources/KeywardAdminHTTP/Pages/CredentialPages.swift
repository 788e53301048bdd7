import KeywardAdmin
import KeywardCore
import KeywardGateway
import KeywardStore

/// A credential kind with a secret, as its pages show it: its words, where its pages are, and
/// the operations behind them. Every such kind gets the same pages from it (`CredentialPages`):
/// the list, a new one with its secret shown once, and each change behind a confirmation step.
struct CredentialPageKind: Sendable {
    /// `key`, `client`: in titles, notices and the `done` notice's parameter.
    let noun: String
    let section: Section
    /// The list's path below the mount (`/admin/`, `/admin/clients`).
    let listPath: String
    /// The prefix of one credential's pages (`/admin/keys/`, `/admin/clients/`).
    let itemPath: String
    /// The list's title for one's own (`My keys`).
    let ownTitle: String
    /// A sentence above the list saying what the kind is for, if it needs one.
    let intro: String?
    /// The id column's heading and how an id is shown there (masked or as it is).
    let idLabel: String
    let shownId: @Sendable (String) -> String
    /// The headings of the last-use and use-count columns.
    let usedLabels: (last: String, count: String)
    /// What the confirmation page of each change says will happen.
    let consequences: @Sendable (CredentialVerb) -> String
    /// How the show-once page presents a new secret.
    let shown: ShownCredential
    let operations: CredentialPageOperations
    /// The changes a row offers (a kind whose secrets rotate has no `regenerate`).
    var verbs: [CredentialVerb] = CredentialVerb.allCases
    /// Further links in a row's actions: a label and a path below the credential's (`/secrets`).
    var rowLinks: [(label: String, suffix: String)] = []
}

/// What the credential pages do, through the `Admin` operations of one kind (which check who
/// may, and audit).
struct CredentialPageOperations: Sendable {
    let list: @Sendable (Admin, _ user: String?) throws -> [CredentialListing]
    let one: @Sendable (Admin, _ id: String) throws -> CredentialListing
    let create: @Sendable (Admin, _ user: String, _ name: String, Lifetime, [PathScope]) throws -> IssuedSecret
    let change: @Sendable (Admin, _ id: String, CredentialChange) throws -> Void
    /// Nil for a kind without `regenerate`.
    let regenerate: (@Sendable (Admin, _ id: String) throws -> IssuedSecret)?
}

/// One row of a credential list, whatever the kind.
struct CredentialListing {
    var id: String
    var user: String
    var name: String
    var status: Status
    var createdAt: Int64
    var expiresAt: Int64?
    var scopes: [String]
    var lastUsedAt: Int64?
    var lastUsedIP: String?
    var useCount: Int64
}

/// A secret just made, for the show-once page.
struct IssuedSecret {
    var id: String
    var name: String
    var secret: String
    var scopes: [String]
}

/// The changes a credential's row offers, in the order shown.
enum CredentialVerb: String, CaseIterable {
    case disable, enable, renew, regenerate, delete

    var label: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }

    /// The notice after it was done.
    func done(_ noun: String) -> String {
        switch self {
        case .disable: "The \(noun) is disabled."
        case .enable: "The \(noun) is enabled."
        case .renew: "The \(noun) is renewed."
        case .regenerate: "The \(noun) has a new secret."
        case .delete: "The \(noun) is deleted."
        }
    }
}

/// What the show-once page says about the credential whose secret it shows.
enum ShownCredential: Sendable {
    /// An API key: used as a Bearer token on its first scope; back to the key list.
    case key
    /// An OAuth2 client: exchanged for a token at `<mount>/token`; back to the client list.
    case client
    /// An approved access request's key, collected by its requester: back to the requests.
    case collected
    /// A signed-request credential's HMAC secret: never sent, it signs; back to the credentials.
    case hmac

    var idLabel: String {
        switch self {
        case .client: "Client id"
        case .hmac: "Credential id (keyid)"
        case .key, .collected: "Key id"
        }
    }
    var section: Section {
        switch self {
        case .key: .keys
        case .client: .clients
        case .collected: .requests
        case .hmac: .hmac
        }
    }
    var back: (label: String, path: String) {
        switch self {
        case .key: ("Done: back to my keys", "/admin/")
        case .client: ("Done: back to my clients", "/admin/clients")
        case .collected: ("Done: back to access requests", "/admin/requests")
        case .hmac: ("Done: back to signed requests", "/admin/hmac")
        }
    }
    /// What Keyward keeps of the secret, after "It is shown only on this page".
    var kept: String {
        self == .hmac
            ? "It is shown only on this page. Keyward keeps it encrypted: later only you or an admin can reveal it again, with a password."
            : "It is shown only on this page and cannot be shown again: Keyward keeps only a hash of it."
    }
}

/// The pages of a `CredentialPageKind`.
enum CredentialPages {
    /// Rows per list page.
    static let pageSize = 25

    /// The kind's routes: the list at `list`, the rest below `item` (`new`, `{id}/{verb}`).
    static func routes(_ kind: CredentialPageKind, list: String, item: String) -> [PageRoute] {
        [
            PageRoute("GET", list) { api in { context, _ in try api.credentialList(kind, context) } },
            PageRoute("GET", item + "/new") { api in { context, _ in try api.newCredentialPage(kind, context) } },
            PageRoute("POST", item + "/new") { api in { context, _ in try api.createCredentialForm(kind, context) } },
            PageRoute("GET", item + "/{}/{}") { api in { try api.confirmCredentialChange(kind, $0, $1) } },
            PageRoute("POST", item + "/{}/{}") { api in { try api.changeCredentialForm(kind, $0, $1) } },
        ]
    }
}

extension AdminAPI {
    /// The list: the caller's own (an admin: `?user=`'s, or everyone's with `?user=*`), newest first, paged.
    func credentialList(_ kind: CredentialPageKind, _ context: PageContext) throws -> PageResult {
        let query = try context.request.query(["user", "page", "done", kind.noun])
        let owner = query["user"] ?? context.user
        let everyone = owner == "*" && context.isAdmin
        let rows = try kind.operations.list(context.operations, everyone ? nil : owner).sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
        let pageNumber = max(1, Int(query["page"] ?? "1") ?? 1)
        let pageRows = rows.dropFirst((pageNumber - 1) * CredentialPages.pageSize).prefix(CredentialPages.pageSize)
        let now = clock.now
        let plural = kind.noun + "s"
        let title =
            owner == context.user ? kind.ownTitle : everyone ? "All \(plural)" : "\(plural.prefix(1).uppercased() + plural.dropFirst()) of \(owner)"
        return .page(
            HTMLPage(title, section: kind.section) { html in
                if let verb = query["done"].flatMap(CredentialVerb.init(rawValue:)) {
                    html.element("p", [.init("class", "notice"), .init("role", "status")]) { html in
                        html.text(verb.done(kind.noun) + " ")
                        if let id = query[kind.noun] { html.element("code", text: id) }
                    }
                }
                if let intro = kind.intro { html.element("p", [.init("class", "muted")], text: intro) }
                html.element("p", [.init("class", "actions")]) { html in
                    let new = kind.itemPath + "new" + (owner == context.user || everyone ? "" : "?user=" + PageContext.encode(owner))
                    html.element("a", [.init("class", "button"), .init("href", context.link(new))], text: "New \(kind.noun)")
                }
                ownerFilter(&html, context, action: kind.listPath, label: "Owner", owner: owner)
                if rows.isEmpty {
                    html.element("p", text: "No \(plural) yet.")
                    return
                }
                html.element("div", [.init("class", "table")]) { html in
                    html.element("table", [.init("class", "cards")]) { html in
                        html.element(
                            "caption", [.init("class", "muted")], text: "\(rows.count) \(rows.count == 1 ? kind.noun : plural), newest first")
                        html.element("thead") { html in
                            html.element("tr") { html in
                                for head in [
                                    "Name", kind.idLabel, "Scopes", "Expires", "Status", kind.usedLabels.last, kind.usedLabels.count, "Actions",
                                ] {
                                    html.element("th", [.init("scope", "col")], text: head)
                                }
                            }
                        }
                        html.element("tbody") { html in
                            for row in pageRows {
                                credentialRow(&html, kind, row, context: context, now: now, showOwner: everyone || owner != context.user)
                            }
                        }
                    }
                }
                pager(
                    &html, context, page: pageNumber, total: rows.count, size: CredentialPages.pageSize,
                    base: kind.listPath + "?user=" + PageContext.encode(owner))
            })
    }

    private func credentialRow(
        _ html: inout HTML, _ kind: CredentialPageKind, _ row: CredentialListing, context: PageContext, now: Int64, showOwner: Bool
    ) {
        html.element("tr") { html in
            html.element("td", [.init("data-label", "Name")]) { html in
                html.text(row.name)
                if showOwner { html.element("span", [.init("class", "muted")], text: " (" + row.user + ")") }
            }
            html.element("td", [.init("data-label", kind.idLabel)]) { html in
                let shown = kind.shownId(row.id)
                // A masked id stays on one line where there is room (PageFormat.maskedCell).
                if shown == PageFormat.masked(row.id) { PageFormat.maskedCell(&html, row.id) } else { html.element("code", text: shown) }
            }
            html.element("td", [.init("data-label", "Scopes")], text: row.scopes.isEmpty ? "every path" : row.scopes.joined(separator: " "))
            html.element("td", [.init("data-label", "Expires")]) { html in PageFormat.time(&html, row.expiresAt, now: now) }
            let status = row.expiresAt.map { $0 <= now } == true ? "expired" : row.status.rawValue
            html.element("td", [.init("data-label", "Status")]) { html in html.element("span", [.init("class", "status " + status)], text: status) }
            html.element("td", [.init("data-label", kind.usedLabels.last)]) { html in
                PageFormat.time(&html, row.lastUsedAt, now: now)
                if let ip = row.lastUsedIP { html.element("span", [.init("class", "mono")], text: " from " + PageFormat.address(ip)) }
            }
            html.element("td", [.init("data-label", kind.usedLabels.count)], text: String(row.useCount))
            html.element("td", [.init("data-label", "Actions")]) { html in
                html.element("ul", [.init("class", "actions"), .init("aria-label", "Actions for " + row.name)]) { html in
                    // Only an admin enables a credential (Admin.change): an owner is not offered it.
                    for (label, suffix) in kind.rowLinks {
                        html.element("li") { html in
                            html.element(
                                "a",
                                [.init("href", context.link(kind.itemPath, row.id, suffix)), .init("aria-label", label + " of " + row.name)],
                                text: label)
                        }
                    }
                    for verb in kind.verbs
                    where verb != (row.status == .active ? .enable : .disable) && (verb != .enable || context.isAdmin) {
                        html.element("li") { html in
                            html.element(
                                "a",
                                [
                                    .init("href", context.link(kind.itemPath, row.id, "/" + verb.rawValue)),
                                    .init("aria-label", verb.label + " " + row.name),
                                ],
                                text: verb.label)
                        }
                    }
                }
            }
        }
    }

    // MARK: A new one

    /// What the new-credential form was sent with, to show it again next to its errors.
    struct CredentialDraft {
        var user: String
        var name = ""
        var days: Int64? = 30
        var scopes: [String] = []
        var otherScopes = ""
        var errors: [String: String] = [:]
    }

    func newCredentialPage(_ kind: CredentialPageKind, _ context: PageContext) throws -> PageResult {
        let query = try context.request.query(["user"])
        let user = context.isAdmin ? query["user"] ?? context.user : context.user
        return .page(try newCredentialForm(kind, context, CredentialDraft(user: user)))
    }

    private func newCredentialForm(_ kind: CredentialPageKind, _ context: PageContext, _ draft: CredentialDraft, status: Int = 200) throws -> HTMLPage
    {
        let reachable = try context.operations.reachableResources(user: draft.user)
        return HTMLPage("New \(kind.noun)", section: kind.section, status: status) { html in
            if !draft.errors.isEmpty {
                html.element(
                    "p", [.init("class", "notice bad"), .init("role", "alert")], text: "The \(kind.noun) was not created: see the marked fields.")
            }
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link(kind.itemPath + "new"))]) { html in
                context.csrfField(&html)
                if context.isAdmin {
                    field(&html, "user", "Owner", error: draft.errors["user"], hint: "the user the \(kind.noun) belongs to") { html, described in
                        html.void(
                            "input",
                            [.init("type", "text"), .init("id", "user"), .init("name", "user"), .init("value", draft.user), "required"] + described)
                    }
                } else {
                    html.void("input", [.init("type", "hidden"), .init("name", "user"), .init("value", draft.user)])
                }
                field(&html, "name", "Name", error: draft.errors["name"], hint: "1 to 100 characters, unique among your \(kind.noun)s") {
                    html, described in
                    html.void(
                        "input",
                        [
                            .init("type", "text"), .init("id", "name"), .init("name", "name"), .init("value", draft.name), .init("maxlength", "100"),
                            "required",
                        ]
                            + described)
                }
                expiryChoices(&html, context, legend: "Expires after", selected: draft.days, error: draft.errors["expires"])
                scopeChoices(
                    &html, context, reachable: reachable, chosen: draft.scopes, other: draft.otherScopes, errors: draft.errors, ownerWord: "user")
                html.element("div", [.init("class", "actions")]) { html in
                    html.element("button", [.init("type", "submit")], text: "Create \(kind.noun)")
                    html.element("a", [.init("class", "button secondary"), .init("href", context.link(kind.listPath))], text: "Cancel")
                }
            }
        }
    }

    /// `POST <item>/new`: the credential, and its secret shown once; or the form again with the errors.
    func createCredentialForm(_ kind: CredentialPageKind, _ context: PageContext) throws -> PageResult {
        let form = try context.form(["user", "name", "expires", "scope", "other_scopes"])
        var draft = CredentialDraft(user: context.isAdmin ? try form.string("user") ?? context.user : context.user)
        draft.name = try form.string("name") ?? ""
        draft.scopes = try form.strings("scope") ?? []
        draft.otherScopes = context.isAdmin ? try form.string("other_scopes") ?? "" : ""
        let choice = ExpiryChoice.sent(try form.string("expires"))
        draft.days = choice?.days ?? 30
        if draft.name.isEmpty { draft.errors["name"] = "Give the \(kind.noun) a name." }
        let scopes = Self.sentScopes(chosen: draft.scopes, other: draft.otherScopes, errors: &draft.errors)
        guard let choice else {
            draft.errors["expires"] = "Pick one of the choices."
            return .page(try newCredentialForm(kind, context, draft, status: 400))
        }
        if !draft.errors.isEmpty { return .page(try newCredentialForm(kind, context, draft, status: 400)) }
        do {
            let issued = try kind.operations.create(context.operations, draft.user, draft.name, choice.lifetime, scopes)
            return .page(showOnce(context, issued, title: "Your new \(kind.noun)", kind: kind.shown))
        } catch let error as AdminError where error.status < 500 {
            // The operations' rules are worded for keys; every kind shares them.
            let message =
                kind.noun == "key" ? error.message : error.message.replacingOccurrences(of: #"\bkey\b"#, with: kind.noun, options: .regularExpression)
            switch error.reason {
            case .conflict: draft.errors["name"] = message
            case .forbidden where message.contains("scope") || message.contains("resource"): draft.errors["scope"] = message
            case .forbidden where message.contains("days"): draft.errors["expires"] = message
            case .notFound: draft.errors["user"] = message
            default: draft.errors["name"] = message
            }
            return .page(try newCredentialForm(kind, context, draft, status: error.status))
        }
    }

    /// The one page that shows a secret: in the answer to the POST that made it, never cached,
    /// with a copy button and a curl line that uses it.
    /// `warning` replaces what the kind says Keyward keeps (a revealed secret says why it is shown).
    func showOnce(_ context: PageContext, _ issued: IssuedSecret, title: String, kind: ShownCredential, warning: String? = nil) -> HTMLPage {
        let scheme = context.request.https ? "https" : "http"
        let host = context.request.host ?? "localhost"
        let path = issued.scopes.first.flatMap(PathScope.init)?.prefix ?? "/"
        let curl =
            switch kind {
            case .client: "curl -u '\(issued.id):\(issued.secret)' -d grant_type=client_credentials \(scheme)://\(host)\(context.mount)/token"
            case .hmac: HMACPages.example(id: issued.id, secret: issued.secret, url: "\(scheme)://\(host)\(path)")
            case .key, .collected: "curl -H 'Authorization: Bearer \(issued.secret)' \(scheme)://\(host)\(path)"
            }
        return HTMLPage(title, section: kind.section) { html in
            html.element("p", [.init("class", "notice warn"), .init("role", "alert")]) { html in
                html.element("strong", text: "Copy the secret now. ")
                html.text(warning ?? kind.kept)
            }
            html.element("dl", [.init("class", "facts")]) { html in
                html.element("dt", text: "Name")
                html.element("dd", text: issued.name)
                html.element("dt", text: kind.idLabel)
                html.element("dd") { html in html.element("code", text: issued.id) }
            }
            html.element("h2", [.init("id", "secret-label")], text: "Secret")
            html.element("div", [.init("class", "secret")]) { html in
                html.element("code", [.init("id", "secret"), .init("aria-labelledby", "secret-label")], text: issued.secret)
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

    private func verbAndCredential(_ kind: CredentialPageKind, _ context: PageContext, _ captures: [String]) throws -> (
        CredentialVerb, CredentialListing
    ) {
        guard let verb = CredentialVerb(rawValue: captures[1]), kind.verbs.contains(verb) else { throw AdminError.noSuchEndpoint }
        return (verb, try kind.operations.one(context.operations, captures[0]))
    }

    /// `GET <item>/{id}/{verb}`: what will happen, and the button that does it.
    func confirmCredentialChange(_ kind: CredentialPageKind, _ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        let (verb, row) = try verbAndCredential(kind, context, captures)
        let now = clock.now
        return .page(
            HTMLPage("\(verb.label) \(kind.noun) \(row.name)?", section: kind.section) { html in
                html.element("dl", [.init("class", "facts")]) { html in
                    html.element("dt", text: kind.idLabel)
                    html.element("dd") { html in html.element("code", text: kind.shownId(row.id)) }
                    html.element("dt", text: "Owner")
                    html.element("dd", text: row.user)
                    html.element("dt", text: "Expires")
                    html.element("dd") { html in PageFormat.time(&html, row.expiresAt, now: now) }
                }
                html.element("p", text: kind.consequences(verb))
                html.element(
                    "form",
                    [.init("class", "stack"), .init("method", "post"), .init("action", context.link(kind.itemPath, row.id, "/" + verb.rawValue))]
                ) { html in
                    context.csrfField(&html)
                    if verb == .renew { expiryChoices(&html, context, legend: "New expiry, from now") }
                    html.element("div", [.init("class", "actions")]) { html in
                        html.element("button", [.init("type", "submit")] + (verb == .delete ? [.init("class", "danger")] : []), text: verb.label)
                        html.element("a", [.init("class", "button secondary"), .init("href", context.link(kind.listPath))], text: "Cancel")
                    }
                }
            })
    }

    /// `POST <item>/{id}/{verb}`: does it; a regenerated credential's secret is shown once.
    func changeCredentialForm(_ kind: CredentialPageKind, _ context: PageContext, _ captures: [String]) throws -> PageResult {
        let (verb, row) = try verbAndCredential(kind, context, captures)
        let form = try context.form(verb == .renew ? ["expires"] : [])
        let admin = context.operations
        switch verb {
        case .disable: try kind.operations.change(admin, row.id, .disable)
        case .enable: try kind.operations.change(admin, row.id, .enable)
        case .delete: try kind.operations.change(admin, row.id, .delete)
        case .renew:
            guard let choice = ExpiryChoice.sent(try form.string("expires")) else { throw AdminError.invalid("Pick one of the expiry choices.") }
            try kind.operations.change(admin, row.id, .renew(choice.lifetime))
        case .regenerate:
            guard let regenerate = kind.operations.regenerate else { throw AdminError.noSuchEndpoint }
            let issued = try regenerate(admin, row.id)
            return .page(showOnce(context, issued, title: "New secret for \(row.name)", kind: kind.shown))
        }
        let owner = row.user == context.user ? "" : "&user=" + PageContext.encode(row.user)
        let join = kind.listPath.contains("?") ? "&" : "?"
        return .redirect(kind.listPath + join + "done=\(verb.rawValue)&\(kind.noun)=\(PageContext.encode(row.id))\(owner)")
    }
}
