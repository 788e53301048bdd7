import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardStore

/// "Signed requests": signed-request credentials (`kwh_`) on the credential pages (the list, a
/// new one with its HMAC secret shown once, disable, enable, renew, delete), and each one's
/// secrets under the rotation rules: add or roll, discard, reactivate, and delete or reveal with
/// the password again. Every change goes through the `Admin` operations of `keyward hmac`.
enum HMACPages {
    static let kind = CredentialPageKind(
        noun: "credential", section: .hmac, listPath: "/admin/hmac", itemPath: "/admin/hmac/", ownTitle: "Signed requests",
        intro:
            "A credential here signs requests instead of sending a secret: an RFC 9421 HTTP message signature with the credential's id as keyid, or Authorization: HMAC <id>:<MAC of the body>. Its secret never travels.",
        idLabel: "Credential id", shownId: { $0 }, usedLabels: ("Last used", "Uses"),
        consequences: { verb in
            switch verb {
            case .disable: "Requests it signs are refused from the next one on, until it is enabled again."
            case .enable: "Its signatures are accepted again (if it has not expired)."
            case .renew: "The credential's expiry moves to the new date; its secrets stay the same."
            case .delete: "The credential and its secrets are gone for good; requests it signs are refused. This cannot be undone."
            case .regenerate: "A credential's secrets rotate on its Secrets page."
            }
        },
        shown: .hmac,
        operations: CredentialPageOperations(
            list: { admin, user in try admin.requestKeys(user: user).map(listing) },
            one: { admin, id in listing(try admin.requestKey(id)) },
            create: { admin, user, name, expires, scopes in
                let created = try admin.createRequestKey(
                    user: user, name: name, material: .generatedSecret, expires: expires, scopes: scopes, networks: [])
                return IssuedSecret(id: created.id, name: created.name, secret: created.secret ?? "", scopes: created.scopes)
            },
            change: { admin, id, command in try admin.setRequestKey(id, command) },
            regenerate: nil),
        verbs: [.disable, .enable, .renew, .delete], rowLinks: [("Secrets", "/secrets")])

    /// The secrets' routes come first: `hmac/{id}/secrets` would otherwise be taken for a verb.
    static let routes: [PageRoute] =
        [
            PageRoute("GET", "hmac/{}/secrets", AdminAPI.requestKeySecretsPage),
            PageRoute("POST", "hmac/{}/secrets", AdminAPI.addRequestKeySecretForm),
            PageRoute("GET", "hmac/{}/secrets/{}/{}", AdminAPI.confirmRequestKeySecretChange),
            PageRoute("POST", "hmac/{}/secrets/{}/{}", AdminAPI.changeRequestKeySecretForm),
        ] + CredentialPages.routes(kind, list: "hmac", item: "hmac")

    /// What may be done to one secret from the credential's page.
    enum Verb: String {
        case discard, reactivate, delete, reveal

        var label: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }
        /// Delete and reveal ask for the password again, on a page of their own.
        var needsPassword: Bool { self == .delete || self == .reveal }
    }

    /// The grace periods a roll offers; none (the empty choice) adds a second active secret.
    static let graces: [(value: String, label: String)] = [
        ("", "Keep both active: I discard the old one myself"), ("1h", "Retire the current one after 1 hour"),
        ("24h", "Retire the current one after 24 hours"), ("7d", "Retire the current one after 7 days"),
    ]

    /// The fixed notices after a change (`?done=`).
    static let notices: [String: String] = [
        "discard": "The secret is discarded: requests it signs are refused from the next one on.",
        "reactivate": "The secret is active again.",
        "delete": "The secret is deleted.",
        "add": "The public key is added.",
    ]

    static func listing(_ row: RequestKeyRow) -> CredentialListing {
        CredentialListing(
            id: row.id, user: row.user, name: row.name, status: row.status, createdAt: row.createdAt, expiresAt: row.expiresAt,
            scopes: row.scopes, lastUsedAt: row.lastUsedAt, lastUsedIP: row.lastUsedIP, useCount: row.useCount)
    }

    /// How the seed's HMAC form is sent, with openssl and curl, on a location where Keyward
    /// receives the body (`nginx/keyward-signed.conf`, or Keyward's own endpoints).
    static func example(id: String, secret: String, url: String) -> String {
        """
        # RFC 9421 (any path): an HTTP Message Signatures library, keyid "\(id)", hmac-sha256, this secret base64-decoded.
        # Authorization: HMAC (only where the server passes the body to Keyward, nginx/keyward-signed.conf):
        BODY='{"hello": "world"}'
        KEY=$(printf '%s' '\(secret)' | base64 -d | od -An -v -tx1 | tr -d ' \\n')
        MAC=$(printf '%s' "$BODY" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$KEY" -binary | base64)
        curl -H "Authorization: HMAC \(id):$MAC" -H 'Content-Type: application/json' -d "$BODY" \(url)
        """
    }

    /// What a reveal form of secret `serial` of credential `id` reveals (`AdminAPI.revealToken`).
    static func revealSubject(_ id: String, _ serial: Int64) -> AdminAPI.RevealSubject {
        AdminAPI.RevealSubject(action: "hmac.secret.reveal", credential: id, detail: RequestKeySecretRow.label(serial))
    }
}

extension AdminAPI {
    // MARK: A credential's secrets

    /// `GET /admin/hmac/{id}/secrets`: the credential and its secrets under the rotation rules.
    func requestKeySecretsPage(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done", "serial"])
        let notice = query["done"].flatMap { HMACPages.notices[$0] }
        return .page(try requestKeySecretsView(context, captures[0], notice: notice, serial: query["serial"].flatMap { Int64($0) }))
    }

    /// The secrets page; `refused` (a rule or a refusal) in an alert above it, `error` beside the public key field.
    private func requestKeySecretsView(
        _ context: PageContext, _ id: String, notice: String? = nil, serial: Int64? = nil, refused: String? = nil, keyError: String? = nil,
        status: Int = 200
    ) throws -> HTMLPage {
        let admin = context.operations
        let row = try admin.requestKey(id)
        let secrets = try admin.store.requestKeySecrets(row.id)
        let set = try admin.requestKeyRotation(row.id)
        let now = clock.now
        let base = "/admin/hmac/" + PageContext.encode(row.id) + "/secrets"
        return HTMLPage("Secrets of \(row.name)", section: .hmac, status: status) { html in
            if let notice {
                html.element("p", [.init("class", "notice"), .init("role", "status")]) { html in
                    html.text(notice)
                    if let serial { html.text(" (secret \(serial))") }
                }
            }
            if let refused { html.element("p", [.init("class", "notice bad"), .init("role", "alert")], text: refused) }
            html.element("dl", [.init("class", "facts")]) { html in
                html.element("dt", text: "Credential id (keyid)")
                html.element("dd") { html in html.element("code", text: row.id) }
                html.element("dt", text: "Name")
                html.element("dd", text: row.name)
                html.element("dt", text: "Owner")
                html.element("dd", text: row.user)
                html.element("dt", text: "Algorithm")
                html.element("dd", text: row.algorithm.rawValue)
                html.element("dt", text: "Status")
                html.element("dd") { html in statusBadge(&html, row.expiresAt.map { $0 <= now } == true ? "expired" : row.status.rawValue) }
                html.element("dt", text: "Expires")
                html.element("dd") { html in PageFormat.time(&html, row.expiresAt, now: now) }
            }
            html.element(
                "p", [.init("class", "muted")],
                text:
                    "Rotation: at least one secret active, at most two active, at most one inactive. Add a second secret, move the clients to it, then discard the first; only an inactive one can be deleted. A roll retires the current one by itself."
            )
            let noun = row.algorithm == .ed25519 ? "public key" : "secret"
            listTable(
                &html, caption: "\(secrets.count) \(secrets.count == 1 ? noun : noun + "s"), oldest first",
                heads: ["Secret", "State", "Added", "Actions"]
            ) { html in
                for secret in secrets {
                    let label = secret.label
                    let item = base + "/\(secret.serial)/"
                    html.element("tr") { html in
                        cell(&html, "Secret", text: "Secret \(secret.serial)")
                        cell(&html, "State") { html in
                            statusBadge(&html, secret.state)
                            if let until = secret.retireAt {
                                html.text(" until ")
                                PageFormat.time(&html, until, now: now)
                            }
                        }
                        cell(&html, "Added") { html in PageFormat.time(&html, secret.createdAt, now: now) }
                        cell(&html, "Actions") { html in
                            rotationActions(
                                &html, context, item: item, member: label, name: "secret \(secret.serial)", reasonKey: "\(secret.serial)",
                                state: secret.state, set: set, now: now, revealable: row.algorithm == .hmacSHA256)
                        }
                    }
                }
            }
            html.element("h2", [.init("id", "add")], text: "Add a \(noun)")
            let refusal = set.refusal(of: .add(RequestKeySecretRow.label(0)), now: now)
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link(base))]) { html in
                context.csrfField(&html)
                if row.algorithm == .ed25519 {
                    field(&html, "public_key", "Public key", error: keyError, hint: "PEM (BEGIN PUBLIC KEY), or the 32 raw bytes in base64") {
                        html, described in
                        html.element(
                            "textarea", [.init("id", "public_key"), .init("name", "public_key"), .init("rows", "4"), "required"] + described, text: ""
                        )
                    }
                }
                html.element("fieldset") { html in
                    html.element("legend", text: "The current \(noun)")
                    for (index, grace) in HMACPages.graces.enumerated() {
                        html.element("div") { html in
                            var attributes: [HTML.Attribute] = [
                                .init("type", "radio"), .init("id", "grace-\(index)"), .init("name", "grace"), .init("value", grace.value),
                            ]
                            if index == 0 { attributes.append("checked") }
                            html.void("input", attributes)
                            html.element("label", [.init("for", "grace-\(index)")], text: grace.label)
                        }
                    }
                }
                html.element("div", [.init("class", "actions add")]) { html in
                    var attributes: [HTML.Attribute] = [.init("type", "submit")]
                    if refusal != nil { attributes += ["disabled", .init("aria-describedby", "add-reason")] }
                    html.element("button", attributes, text: "Add \(noun)")
                    if let refusal { html.element("span", [.init("class", "reason"), .init("id", "add-reason")], text: Self.reason(refusal)) }
                }
            }
            html.element("p") { html in html.element("a", [.init("href", context.link("/admin/hmac"))], text: "Back to signed requests") }
        }
    }

    /// `POST /admin/hmac/{id}/secrets` `grace=&public_key=`: a new secret (a roll with a grace), an
    /// HMAC one shown once.
    func addRequestKeySecretForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = context.operations
        let row = try admin.requestKey(captures[0])
        let form = try context.form(["grace", "public_key"])
        let graceText = try form.string("grace") ?? ""
        guard HMACPages.graces.contains(where: { $0.value == graceText }) else { throw AdminError.invalid("Pick one of the choices.") }
        var grace: Int64? = nil
        if case .seconds(let seconds)? = Lifetime(graceText) { grace = seconds }
        let material: RequestKeyMaterial
        if row.algorithm == .ed25519 {
            do {
                material = try RequestKeyMaterial.ed25519(publicKeyText: try form.string("public_key") ?? "")
            } catch let error as AdminError {
                return .page(try requestKeySecretsView(context, row.id, keyError: error.message, status: 400))
            }
        } else {
            material = .generatedSecret
        }
        let added: AddedRequestKeySecret
        do {
            added = try admin.addRequestKeySecret(row.id, material: material, grace: grace)
        } catch {
            guard let refusal = AdminError.from(error), refusal.reason == .conflict else { throw error }
            return .page(try requestKeySecretsView(context, row.id, refused: refusal.message, status: refusal.status))
        }
        guard let secret = added.secret else {
            return .redirect("/admin/hmac/" + PageContext.encode(row.id) + "/secrets?done=add&serial=\(added.serial)")
        }
        return .page(
            showOnce(
                context, IssuedSecret(id: row.id, name: "\(row.name), secret \(added.serial)", secret: secret, scopes: row.scopes),
                title: "New secret for \(row.name)", kind: .hmac))
    }

    /// The credential, the secret and the verb a path names (`/admin/hmac/{id}/secrets/{serial}/{verb}`).
    private func requestKeySecret(_ context: PageContext, _ captures: [String]) throws -> (HMACPages.Verb, RequestKeyRow, RequestKeySecretRow) {
        guard let verb = HMACPages.Verb(rawValue: captures[2]) else { throw AdminError.noSuchEndpoint }
        let row = try context.operations.requestKey(captures[0])
        guard let serial = Int64(captures[1]),
            let secret = try context.operations.store.requestKeySecrets(row.id).first(where: { $0.serial == serial })
        else { throw AdminError.notFound("\(row.id) has no such secret") }
        return (verb, row, secret)
    }

    /// `GET .../secrets/{serial}/{delete|reveal}`: what will happen, and the password field.
    func confirmRequestKeySecretChange(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        let (verb, row, secret) = try requestKeySecret(context, captures)
        guard verb.needsPassword else { throw AdminError.noSuchEndpoint }
        if verb == .delete, let refusal = try context.operations.requestKeyRotation(row.id).refusal(of: .delete(secret.label), now: clock.now) {
            return .page(try requestKeySecretsView(context, row.id, refused: Self.reason(refusal), status: 409))
        }
        return .page(try secretPasswordPage(context, verb, row, secret, error: nil))
    }

    private func secretPasswordPage(
        _ context: PageContext, _ verb: HMACPages.Verb, _ row: RequestKeyRow, _ secret: RequestKeySecretRow, error: String?, refused: String? = nil,
        status: Int = 200
    ) throws -> HTMLPage {
        let base = "/admin/hmac/" + PageContext.encode(row.id) + "/secrets"
        var hidden: [(String, String)] = []
        if verb == .reveal { hidden.append(("reveal_token", try revealToken(context, HMACPages.revealSubject(row.id, secret.serial)))) }
        return passwordPage(
            context, section: .hmac, title: "\(verb.label) secret \(secret.serial) of \(row.name)?",
            facts: [("Credential id", row.id), ("Owner", row.user), ("Secret", "Secret \(secret.serial)"), ("State", secret.state)],
            consequence: verb == .delete
                ? "The secret is gone for good; requests it signs stay refused. This cannot be undone."
                : "The secret is shown on the next page, once: reloading or going back does not show it again. The reveal is audited.",
            action: base + "/\(secret.serial)/" + verb.rawValue, hidden: hidden, button: verb == .delete ? "Delete" : "Show the secret",
            danger: verb == .delete, cancel: base, error: error, refused: refused, status: status)
    }

    /// `POST .../secrets/{serial}/{verb}`: discard or reactivate at once; delete or reveal with the password.
    func changeRequestKeySecretForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let (verb, row, secret) = try requestKeySecret(context, captures)
        let admin = context.operations
        let done = "/admin/hmac/" + PageContext.encode(row.id) + "/secrets?done=\(verb.rawValue)&serial=\(secret.serial)"
        func refusedPage(_ error: any Error) throws -> PageResult {
            guard let refusal = AdminError.from(error), refusal.reason == .conflict else { throw error }
            return .page(try requestKeySecretsView(context, row.id, refused: refusal.message, status: refusal.status))
        }
        switch verb {
        case .discard, .reactivate:
            _ = try context.form([])
            do {
                try admin.setRequestKeySecret(row.id, serial: secret.serial, verb == .discard ? .discard : .reactivate)
            } catch {
                return try refusedPage(error)
            }
            return .redirect(done)
        case .delete:
            guard let password = try context.form(["password"]).string("password") else {
                return .page(try secretPasswordPage(context, verb, row, secret, error: "Enter your password.", status: 400))
            }
            do {
                try admin.deleteRequestKeySecret(row.id, serial: secret.serial, password: password)
            } catch {
                if let refusal = AdminError.from(error), Self.isWrongPassword(refusal) {
                    return .page(try secretPasswordPage(context, verb, row, secret, error: "The password did not match.", status: refusal.status))
                }
                return try refusedPage(error)
            }
            return .redirect(done)
        case .reveal:
            let form = try context.form(["password", "reveal_token"])
            switch try revealFormState(context, HMACPages.revealSubject(row.id, secret.serial), token: try form.string("reveal_token")) {
            case .fresh: break
            case .used:
                return .page(
                    try secretPasswordPage(
                        context, verb, row, secret, error: nil,
                        refused:
                            "This form was sent already, and a secret is shown only in the answer to it. To see it again, enter your password again.",
                        status: 409))
            case .expired:
                return .page(
                    try secretPasswordPage(
                        context, verb, row, secret, error: nil, refused: "This form has expired; enter your password again.", status: 400))
            }
            guard let password = try form.string("password") else {
                return .page(try secretPasswordPage(context, verb, row, secret, error: "Enter your password.", status: 400))
            }
            let shown: String
            do {
                shown = try admin.revealRequestKeySecret(row.id, serial: secret.serial, password: password)
            } catch {
                guard let refusal = AdminError.from(error), Self.isWrongPassword(refusal) else { throw error }
                return .page(try secretPasswordPage(context, verb, row, secret, error: "The password did not match.", status: refusal.status))
            }
            return .page(
                showOnce(
                    context, IssuedSecret(id: row.id, name: "\(row.name), secret \(secret.serial)", secret: shown, scopes: row.scopes),
                    title: "Secret \(secret.serial) of \(row.name)", kind: .hmac,
                    warning: "It is shown because you entered your password, and only on this page. The reveal is audited."))
        }
    }
}
