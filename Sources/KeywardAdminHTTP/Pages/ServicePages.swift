import Foundation
import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

/// Services (DESIGN.md "Services"): the list with the new-service form, and each service's page
/// with a table per credential type. Every change goes through the `Admin` service operations,
/// so it is checked and audited as on the command line and the API. A rotation the rules forbid
/// (`RotationSet.refusal(of:now:)`) is a disabled button with the rule beside it; deleting and
/// revealing ask for the password again on a page of their own.
enum ServicePages {
    static let routes: [PageRoute] = [
        PageRoute("GET", "services", AdminAPI.serviceList),
        PageRoute("POST", "services", AdminAPI.createServiceForm),
        PageRoute("GET", "services/{}", AdminAPI.serviceDetails),
        PageRoute("GET", "services/{}/delete", AdminAPI.confirmServiceDelete),
        PageRoute("POST", "services/{}/delete", AdminAPI.deleteServiceForm),
        PageRoute("POST", "services/{}/credentials", AdminAPI.addServiceCredentialForm),
        PageRoute("GET", "services/{}/credentials/{}/{}", AdminAPI.confirmServiceCredentialChange),
        PageRoute("POST", "services/{}/credentials/{}/{}", AdminAPI.changeServiceCredentialForm),
    ]

    /// What may be done to one credential of a service from its page.
    enum Verb: String, CaseIterable {
        case discard, reactivate, delete, reveal

        var label: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }

        /// Delete and reveal ask for the password again, on a page of their own.
        var needsPassword: Bool { self == .delete || self == .reveal }
    }

    /// The fixed notices after a change (`?done=`).
    static let notices: [String: String] = [
        "discard": "The credential is discarded: it is refused from the next request on.",
        "reactivate": "The credential is active again.",
        "delete": "The credential is deleted.",
        "deleted": "The service is deleted.",
    ]

    /// `Service keys`, `JWT secrets`.
    static func plural(_ type: ServiceCredentialType) -> String {
        type == .serviceKey ? "Service keys" : "JWT secrets"
    }

    /// `service key`, `JWT secret`.
    static func noun(_ type: ServiceCredentialType) -> String {
        type == .serviceKey ? "service key" : "JWT secret"
    }

    /// What a reveal form of service credential `id` reveals (`AdminAPI.revealToken`).
    static func revealSubject(_ id: String) -> AdminAPI.RevealSubject {
        AdminAPI.RevealSubject(action: "service.credential.reveal", credential: id, detail: nil)
    }

    /// True when the caller may make services (their own): an admin, or a holder of `manage-own-keys`.
    static func mayCreate(_ caller: Caller?) -> Bool {
        guard let caller else { return false }
        return caller.privileges.contains(Privilege.admin) || caller.privileges.contains(Privilege.manageOwnKeys)
    }
}

extension AdminAPI {
    // MARK: The list and a new service

    /// What the new-service form was sent with, to show it again next to its errors.
    struct ServiceDraft {
        var owner: String
        var name = ""
        var scopes: [String] = []
        var otherScopes = ""
        var networks = ""
        var errors: [String: String] = [:]
    }

    /// `GET /admin/services`: the caller's services (an admin: `?user=`'s, or everyone's with
    /// `?user=*`), by name, and the new-service form.
    func serviceList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["user", "done"])
        let owner = query["user"] ?? context.user
        // An admin looking at one user's services makes the next one for them by default.
        let draft = ServiceDraft(owner: context.isAdmin && owner != "*" ? owner : context.user)
        return .page(try serviceListPage(context, owner: owner, draft, notice: query["done"].flatMap { ServicePages.notices[$0] }))
    }

    private func serviceListPage(_ context: PageContext, owner: String, _ draft: ServiceDraft, notice: String? = nil, status: Int = 200) throws
        -> HTMLPage
    {
        let admin = context.operations
        let everyone = owner == "*" && context.isAdmin
        let rows = try admin.services(owner: everyone ? nil : owner).sorted { $0.name < $1.name }
        let mayCreate = ServicePages.mayCreate(context.caller)
        let reachable = mayCreate ? try admin.reachableResources(user: draft.owner) : []
        let now = clock.now
        let title = owner == context.user ? "Services" : everyone ? "All services" : "Services of \(owner)"
        return HTMLPage(title, section: .services, status: status) { html in
            doneNotice(&html, notice)
            html.element(
                "p", [.init("class", "muted")],
                text:
                    "A service is a program that calls your APIs with credentials of its own: a service key (kws_…), or short JWTs it signs with its JWT secret. Each rotates without an outage."
            )
            ownerFilter(&html, context, action: "/admin/services", label: "Owner", owner: owner)
            if rows.isEmpty {
                html.element("p", text: "No services yet.")
            } else {
                listTable(
                    &html, caption: "\(rows.count) service\(rows.count == 1 ? "" : "s"), by name",
                    heads: ["Name", "Owner", "Scopes", "Service keys", "JWT secrets", "Created"]
                ) { html in
                    for row in rows {
                        html.element("tr") { html in
                            cell(&html, "Name") { html in
                                html.element("a", [.init("href", context.link("/admin/services/", row.name))], text: row.name)
                            }
                            cell(&html, "Owner", text: row.owner)
                            cell(&html, "Scopes") { html in codeList(&html, row.scopes, none: "every path") }
                            for type in ServiceCredentialType.allCases {
                                cell(&html, ServicePages.plural(type), text: Self.states(of: row, type))
                            }
                            cell(&html, "Created") { html in PageFormat.time(&html, row.createdAt, now: now) }
                        }
                    }
                }
            }
            guard mayCreate else { return }
            html.element("h2", [.init("id", "new")], text: "New service")
            errorSummary(&html, draft.errors, "The service was not created")
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link("/admin/services"))]) { html in
                context.csrfField(&html)
                if context.isAdmin {
                    textField(
                        &html, "service_owner", name: "owner", label: "Owner", value: draft.owner, error: draft.errors["owner"],
                        hint: "the user the service acts for: their status and grants apply", required: true, maxLength: 64)
                } else {
                    html.void("input", [.init("type", "hidden"), .init("name", "owner"), .init("value", draft.owner)])
                }
                textField(
                    &html, "service_name", name: "name", label: "Name", value: draft.name, error: draft.errors["name"],
                    hint: "letters, digits and . _ @ -, at most 64; the iss of the service's JWTs", required: true, maxLength: 64)
                scopeChoices(
                    &html, context, reachable: reachable, chosen: draft.scopes, other: draft.otherScopes, errors: draft.errors, ownerWord: "owner")
                textField(
                    &html, "networks", label: "Networks (optional)", value: draft.networks, error: draft.errors["networks"],
                    hint: "CIDR ranges or addresses such as 10.0.0.0/8, separated by spaces; empty for every address")
                html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: "Create service") }
            }
        }
    }

    /// `1 active, 1 inactive` for the credentials of one type of a service.
    static func states(of row: ServiceRow, _ type: ServiceCredentialType) -> String {
        let of = row.credentials.filter { $0.type == type }
        let active = of.filter { $0.status == "active" }.count
        let inactive = of.count - active
        return inactive == 0 ? "\(active) active" : "\(active) active, \(inactive) inactive"
    }

    /// `POST /admin/services`: the service, and its two secrets shown once; or the list again with the errors.
    func createServiceForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let form = try context.form(["owner", "name", "scope", "other_scopes", "networks"])
        var draft = ServiceDraft(owner: context.isAdmin ? try form.string("owner") ?? context.user : context.user)
        draft.name = try form.string("name") ?? ""
        draft.scopes = try form.strings("scope") ?? []
        draft.otherScopes = context.isAdmin ? try form.string("other_scopes") ?? "" : ""
        draft.networks = try form.string("networks") ?? ""
        if let problem = Self.nameProblem(draft.name, "service") { draft.errors["name"] = problem }
        let scopes = Self.sentScopes(chosen: draft.scopes, other: draft.otherScopes, errors: &draft.errors)
        var networks: [CIDR] = []
        for word in AccessPages.words(draft.networks) {
            guard let range = CIDR(word) else {
                draft.errors["networks"] = "Not a CIDR range or address: \(word.prefix(64))"
                continue
            }
            networks.append(range)
        }
        if !draft.errors.isEmpty { return .page(try serviceListPage(context, owner: context.user, draft, status: 400)) }
        do {
            let created = try context.operations.createService(draft.name, owner: draft.owner, scopes: scopes, networks: networks)
            return .page(serviceCreatedPage(context, created))
        } catch {
            guard let refusal = AdminError.from(error), refusal.status < 500 else { throw error }
            switch refusal.reason {
            case .conflict: draft.errors["name"] = "A service with this name exists already."
            case .forbidden where refusal.message.contains("scope"):
                // The operations' rule is worded for keys; services share it.
                draft.errors["scope"] = Self.sentence(
                    refusal.message.replacingOccurrences(of: #"\bkey\b"#, with: "service", options: .regularExpression))
            case .forbidden: throw refusal
            case .notFound: draft.errors[context.isAdmin ? "owner" : "name"] = Self.sentence(refusal.message)
            default: draft.errors["name"] = Self.sentence(refusal.message)
            }
            return .page(try serviceListPage(context, owner: context.user, draft, status: refusal.status))
        }
    }

    /// The answer to the POST that made a service: both secrets, once, with copy buttons and how to use them.
    private func serviceCreatedPage(_ context: PageContext, _ created: CreatedService) -> HTMLPage {
        let service = created.service
        let keyId = service.credentials.first { $0.type == .serviceKey }?.id ?? ""
        let target = exampleURL(context, scopes: service.scopes)
        return HTMLPage("Your new service \(service.name)", section: .services) { html in
            html.element("p", [.init("class", "notice warn"), .init("role", "alert")]) { html in
                html.element("strong", text: "Copy the secrets now. ")
                html.text(
                    "They are shown only on this page. Keyward keeps them encrypted: later only the owner or an admin can reveal one again, with their password."
                )
            }
            html.element("dl", [.init("class", "facts")]) { html in
                html.element("dt", text: "Service")
                html.element("dd", text: service.name)
                html.element("dt", text: "Owner")
                html.element("dd", text: service.owner)
                html.element("dt", text: "Scopes")
                html.element("dd") { html in codeList(&html, service.scopes, none: "every path") }
            }
            secretBlock(&html, id: "service-key", heading: "Service key", credential: keyId, secret: created.serviceKey)
            secretBlock(&html, id: "jwt-secret", heading: "JWT secret", credential: created.jwtSecretId, secret: created.jwtSecret)
            html.element("h2", text: "Use it")
            html.element("p", text: "Send the service key wherever an API key may go:")
            html.element("pre") { html in
                html.element("code", [.init("id", "curl")], text: "curl -H 'Authorization: Bearer \(created.serviceKey)' \(target)")
            }
            html.element(
                "p",
                text:
                    "Or mint a short JWT with the JWT secret (HS256, iss the service's name, iat, exp at most 60 minutes later) and send it as a Bearer token:"
            )
            html.element("pre") { html in
                html.element("code", [.init("id", "jwt-example")], text: Self.jwtExample(service.name, secret: created.jwtSecret, target: target))
            }
            html.element("p") { html in
                html.element("a", [.init("href", context.link("/admin/services/", service.name))], text: "Done: go to the service")
            }
        }
    }

    /// A URL the service may call, for the examples: its first scope on the host the page was asked on.
    private func exampleURL(_ context: PageContext, scopes: [String]) -> String {
        let scheme = context.request.https ? "https" : "http"
        let host = context.request.host ?? "localhost"
        let path = scopes.first.flatMap(PathScope.init)?.prefix ?? "/"
        return "\(scheme)://\(host)\(path)"
    }

    /// Two shell lines that mint a service JWT with PyJWT and send it.
    static func jwtExample(_ name: String, secret: String, target: String) -> String {
        """
        JWT=$(python3 -c 'import base64, time, jwt; now = int(time.time()); print(jwt.encode({"iss": "\(name)", "iat": now, "exp": now + 300}, base64.b64decode("\(secret)"), algorithm="HS256"))')
        curl -H "Authorization: Bearer $JWT" \(target)
        """
    }

    // MARK: One service

    /// `GET /admin/services/{name}`: its facts and a table per credential type.
    func serviceDetails(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done", "credential"])
        let notice = query["done"].flatMap { ServicePages.notices[$0] }
        let credential = query["credential"].flatMap { ServiceCredentialType(credentialId: $0) == nil ? nil : $0 }
        return .page(try servicePage(context, captures[0], notice: notice, credential: credential))
    }

    /// The service's page; `refused` (a rule or a refusal) in an alert above it.
    private func servicePage(
        _ context: PageContext, _ name: String, notice: String? = nil, credential: String? = nil, refused: String? = nil, status: Int = 200
    ) throws -> HTMLPage {
        let admin = context.operations
        let row = try admin.service(name)
        var sets: [ServiceCredentialType: RotationSet] = [:]
        for type in ServiceCredentialType.allCases { sets[type] = try admin.rotation(of: row.name, type: type) }
        let now = clock.now
        let base = "/admin/services/" + PageContext.encode(row.name)
        return HTMLPage("Service \(row.name)", section: .services, status: status) { html in
            if let notice {
                html.element("p", [.init("class", "notice"), .init("role", "status")]) { html in
                    html.text(notice)
                    if let credential {
                        html.text(" ")
                        html.element("code", text: credential)
                    }
                }
            }
            if let refused { html.element("p", [.init("class", "notice bad"), .init("role", "alert")], text: Self.sentence(refused)) }
            html.element("dl", [.init("class", "facts")]) { html in
                html.element("dt", text: "Name")
                html.element("dd", text: row.name)
                html.element("dt", text: "Owner")
                html.element("dd", text: row.owner)
                html.element("dt", text: "Scopes")
                html.element("dd") { html in codeList(&html, row.scopes, none: "every path") }
                html.element("dt", text: "Networks")
                html.element("dd") { html in codeList(&html, row.allowIPs.map(AccessPages.network), none: "every address") }
                html.element("dt", text: "Created")
                html.element("dd") { html in PageFormat.time(&html, row.createdAt, now: now) }
            }
            html.element(
                "p", [.init("class", "muted")],
                text:
                    "Rotation, for each type separately: at least one active, at most two active, at most one inactive. Discard the old one once clients use the new one; only an inactive one can be deleted."
            )
            for type in ServiceCredentialType.allCases {
                credentialTable(&html, context, row, type, sets[type]!, base: base, now: now)
            }
            html.element("h2", text: "Delete the service")
            html.element("p", text: "Its credentials stop working at once. This asks for your password again.")
            html.element("p") { html in
                html.element(
                    "a", [.init("class", "button danger"), .init("href", context.link(base + "/delete"))], text: "Delete service \(row.name)")
            }
        }
    }

    /// The table of one credential type: each masked, its state and use, and its actions; then the
    /// Add button. What the rules forbid is a disabled button with the rule, tied by `aria-describedby`.
    private func credentialTable(
        _ html: inout HTML, _ context: PageContext, _ row: ServiceRow, _ type: ServiceCredentialType, _ set: RotationSet, base: String, now: Int64
    ) {
        let plural = ServicePages.plural(type)
        let noun = ServicePages.noun(type)
        let slug = type.rawValue
        html.element("h2", [.init("id", slug + "s")], text: plural)
        let credentials = row.credentials.filter { $0.type == type }
        listTable(
            &html, caption: "\(credentials.count) \(credentials.count == 1 ? noun : noun + "s"), oldest first",
            heads: ["Credential", "State", "Created", "Last used", "Uses", "Actions"]
        ) { html in
            for credential in credentials {
                html.element("tr") { html in
                    cell(&html, "Credential") { html in PageFormat.maskedCell(&html, credential.id) }
                    cell(&html, "State") { html in statusBadge(&html, credential.status) }
                    cell(&html, "Created") { html in PageFormat.time(&html, credential.createdAt, now: now) }
                    cell(&html, "Last used") { html in PageFormat.time(&html, credential.lastUsedAt, now: now) }
                    cell(&html, "Uses", text: String(credential.useCount))
                    cell(&html, "Actions") { html in
                        rotationActions(
                            &html, context, item: base + "/credentials/" + PageContext.encode(credential.id) + "/", member: credential.id,
                            name: credential.id, reasonKey: credential.id, state: credential.status, set: set, now: now, revealable: true)
                    }
                }
            }
        }
        html.element("div", [.init("class", "actions add")]) { html in
            html.element("form", [.init("method", "post"), .init("action", context.link(base + "/credentials"))]) { html in
                context.csrfField(&html)
                html.void("input", [.init("type", "hidden"), .init("name", "type"), .init("value", type.rawValue)])
                let refusal = set.refusal(of: .add(type.prefix + "_new"), now: now)
                var attributes: [HTML.Attribute] = [.init("type", "submit")]
                if refusal != nil { attributes += ["disabled", .init("aria-describedby", "add-" + slug + "-reason")] }
                html.element("button", attributes, text: "Add " + noun)
                if let refusal {
                    html.element("span", [.init("class", "reason"), .init("id", "add-" + slug + "-reason")], text: AdminAPI.reason(refusal))
                }
            }
        }
    }

    /// `POST /admin/services/{name}/credentials` `type=`: a new active credential, its secret shown once.
    func addServiceCredentialForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let name = captures[0]
        let text = try context.form(["type"]).string("type")
        guard let type = text.flatMap(ServiceCredentialType.init(rawValue:)) else { throw AdminError.invalid("type is service-key or jwt-secret") }
        let shown: ServiceSecretShown
        do {
            shown = try context.operations.addServiceCredential(name, type: type)
        } catch {
            guard let refusal = AdminError.from(error), refusal.reason == .conflict else { throw error }
            return .page(try servicePage(context, name, refused: refusal.message, status: refusal.status))
        }
        let row = try context.operations.service(name)
        return .page(
            secretPage(
                context, title: "New \(ServicePages.noun(type)) for \(row.name)", shown, row: row,
                warning:
                    "It is shown only on this page. Keyward keeps it encrypted: later only the owner or an admin can reveal it again, with their password."
            ))
    }

    /// The page of one secret (a new credential's, or a revealed one): the answer to the POST that
    /// asked for it, never cached, with a copy button and how to use it.
    private func secretPage(_ context: PageContext, title: String, _ shown: ServiceSecretShown, row: ServiceRow, warning: String) -> HTMLPage {
        let target = exampleURL(context, scopes: row.scopes)
        return HTMLPage(title, section: .services) { html in
            html.element("p", [.init("class", "notice warn"), .init("role", "alert")]) { html in
                html.element("strong", text: "Copy the secret now. ")
                html.text(warning)
            }
            html.element("dl", [.init("class", "facts")]) { html in
                html.element("dt", text: "Service")
                html.element("dd", text: row.name)
                html.element("dt", text: "Type")
                html.element("dd", text: ServicePages.noun(shown.type))
                html.element("dt", text: "Id")
                html.element("dd") { html in html.element("code", text: shown.id) }
            }
            html.element("h2", [.init("id", "secret-label")], text: "Secret")
            html.element("div", [.init("class", "secret")]) { html in
                html.element("code", [.init("id", "secret"), .init("aria-labelledby", "secret-label")], text: shown.secret)
                html.element("button", [.init("type", "button"), .init("class", "secondary"), .init("data-copy", "secret"), "hidden"], text: "Copy")
                html.element("span", [.init("id", "secret-status"), .init("role", "status")], text: "")
            }
            html.element("h2", text: "Use it")
            html.element("pre") { html in
                html.element(
                    "code", [.init("id", "curl")],
                    text: shown.type == .serviceKey
                        ? "curl -H 'Authorization: Bearer \(shown.secret)' \(target)"
                        : Self.jwtExample(row.name, secret: shown.secret, target: target))
            }
            html.element("p") { html in
                html.element("a", [.init("href", context.link("/admin/services/", row.name))], text: "Done: back to the service")
            }
        }
    }

    // MARK: Discard, reactivate, delete, reveal

    /// The service and the credential a path names (`/admin/services/{name}/credentials/{id}/{verb}`);
    /// anything else is 404, like a credential of a service the caller may not see.
    private func serviceCredential(_ context: PageContext, _ captures: [String]) throws -> (ServicePages.Verb, ServiceRow, ServiceCredentialRow) {
        guard let verb = ServicePages.Verb(rawValue: captures[2]) else { throw AdminError.noSuchEndpoint }
        let id = try Self.serviceCredentialId(captures[1])
        let row = try context.operations.service(captures[0])
        guard let credential = row.credentials.first(where: { $0.id == id }) else {
            throw AdminError.notFound("service \(row.name) has no credential \(id)")
        }
        return (verb, row, credential)
    }

    /// `GET .../credentials/{id}/{delete|reveal}`: what will happen, and the password field.
    func confirmServiceCredentialChange(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        let (verb, row, credential) = try serviceCredential(context, captures)
        guard verb.needsPassword else { throw AdminError.noSuchEndpoint }
        if verb == .delete,
            let refusal = try context.operations.rotation(of: row.name, type: credential.type).refusal(of: .delete(credential.id), now: clock.now)
        {
            return .page(try servicePage(context, row.name, refused: refusal.description, status: 409))
        }
        return .page(try credentialPasswordPage(context, verb, row, credential, error: nil))
    }

    /// The confirmation of a delete or a reveal: the credential, what will happen, the password again.
    private func credentialPasswordPage(
        _ context: PageContext, _ verb: ServicePages.Verb, _ row: ServiceRow, _ credential: ServiceCredentialRow, error: String?,
        refused: String? = nil, status: Int = 200
    ) throws -> HTMLPage {
        let noun = ServicePages.noun(credential.type)
        let base = "/admin/services/" + PageContext.encode(row.name)
        var hidden: [(String, String)] = []
        if verb == .reveal { hidden.append(("reveal_token", try revealToken(context, ServicePages.revealSubject(credential.id)))) }
        return passwordPage(
            context, section: .services, title: "\(verb.label) \(noun) \(credential.id)?",
            facts: [
                ("Service", row.name), ("Owner", row.owner),
                (noun.prefix(1).uppercased() + noun.dropFirst(), PageFormat.masked(credential.id)), ("State", credential.status),
            ],
            consequence: verb == .delete
                ? "The \(noun) is gone for good; requests with it stay refused. This cannot be undone."
                : "The secret is shown on the next page, once: it is not kept there, and reloading or going back does not show it again. The reveal is audited.",
            action: base + "/credentials/" + PageContext.encode(credential.id) + "/" + verb.rawValue, hidden: hidden,
            button: verb == .delete ? "Delete" : "Show the secret", danger: verb == .delete, cancel: base, error: error, refused: refused,
            status: status)
    }

    /// `POST .../credentials/{id}/{verb}`: discard or reactivate at once; delete or reveal with the password.
    func changeServiceCredentialForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let (verb, row, credential) = try serviceCredential(context, captures)
        let admin = context.operations
        let back = "/admin/services/" + PageContext.encode(row.name)
        let done = back + "?done=\(verb.rawValue)&credential=" + PageContext.encode(credential.id)
        switch verb {
        case .discard, .reactivate:
            _ = try context.form([])
            do {
                try admin.setServiceCredential(row.name, credential.id, verb == .discard ? .discard : .reactivate)
            } catch {
                guard let refusal = AdminError.from(error), refusal.reason == .conflict else { throw error }
                return .page(try servicePage(context, row.name, refused: refusal.message, status: refusal.status))
            }
            return .redirect(done)
        case .delete:
            guard let password = try context.form(["password"]).string("password") else {
                return .page(try credentialPasswordPage(context, verb, row, credential, error: "Enter your password.", status: 400))
            }
            do {
                try admin.deleteServiceCredential(row.name, credential.id, password: password)
            } catch {
                guard let refusal = AdminError.from(error), refusal.status < 500 else { throw error }
                if Self.isWrongPassword(refusal) {
                    return .page(
                        try credentialPasswordPage(context, verb, row, credential, error: "The password did not match.", status: refusal.status))
                }
                guard refusal.reason == .conflict else { throw refusal }
                return .page(try servicePage(context, row.name, refused: refusal.message, status: refusal.status))
            }
            return .redirect(done)
        case .reveal:
            let form = try context.form(["password", "reveal_token"])
            let password = try form.string("password")
            switch try revealFormState(context, ServicePages.revealSubject(credential.id), token: try form.string("reveal_token")) {
            case .fresh: break
            case .used:
                return .page(
                    try credentialPasswordPage(
                        context, verb, row, credential, error: nil,
                        refused:
                            "This form was sent already, and a secret is shown only in the answer to it. To see it again, enter your password again.",
                        status: 409))
            case .expired:
                return .page(
                    try credentialPasswordPage(
                        context, verb, row, credential, error: nil, refused: "This form has expired; enter your password again.", status: 400))
            }
            guard let password else {
                return .page(try credentialPasswordPage(context, verb, row, credential, error: "Enter your password.", status: 400))
            }
            let shown: ServiceSecretShown
            do {
                shown = try admin.revealServiceCredential(row.name, credential.id, password: password)
            } catch {
                guard let refusal = AdminError.from(error), Self.isWrongPassword(refusal) else { throw error }
                return .page(try credentialPasswordPage(context, verb, row, credential, error: "The password did not match.", status: refusal.status))
            }
            return .page(
                secretPage(
                    context, title: "Secret of \(ServicePages.noun(shown.type)) \(shown.id)", shown, row: row,
                    warning:
                        "It is shown because you entered your password, and only on this page: reloading or going back does not show it again. The reveal is audited."
                ))
        }
    }

    // MARK: Delete the service

    /// `GET /admin/services/{name}/delete`: what will happen, and the password field.
    func confirmServiceDelete(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        return .page(serviceDeletePage(context, try context.operations.service(captures[0]), error: nil))
    }

    private func serviceDeletePage(_ context: PageContext, _ row: ServiceRow, error: String?, status: Int = 200) -> HTMLPage {
        let base = "/admin/services/" + PageContext.encode(row.name)
        return passwordPage(
            context, section: .services, title: "Delete service \(row.name)?",
            facts: [
                ("Service", row.name), ("Owner", row.owner), ("Service keys", Self.states(of: row, .serviceKey)),
                ("JWT secrets", Self.states(of: row, .jwtSecret)),
            ],
            consequence:
                "The service and all its credentials are gone for good; requests with them are refused from the next one on. This cannot be undone.",
            action: base + "/delete", hidden: [], button: "Delete service", danger: true, cancel: base, error: error, refused: nil, status: status)
    }

    /// `POST /admin/services/{name}/delete` `password=`.
    func deleteServiceForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = context.operations
        let row = try admin.service(captures[0])
        guard let password = try context.form(["password"]).string("password") else {
            return .page(serviceDeletePage(context, row, error: "Enter your password.", status: 400))
        }
        do {
            try admin.deleteService(row.name, password: password)
        } catch {
            guard let refusal = AdminError.from(error), Self.isWrongPassword(refusal) else { throw error }
            return .page(serviceDeletePage(context, row, error: "The password did not match.", status: refusal.status))
        }
        return .redirect("/admin/services?done=deleted")
    }
}
