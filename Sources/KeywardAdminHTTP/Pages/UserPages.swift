import KeywardAdmin
import KeywardCore
import KeywardGateway
import KeywardStore

/// Users, for admins: the list with the add form, and each user's page (status, e-mail,
/// password, groups, roles, a link to their keys). Disable and enable behind a confirmation step.
enum UserPages {
    static let routes: [PageRoute] = [
        PageRoute("GET", "users", AdminAPI.userList),
        PageRoute("POST", "users", AdminAPI.addUserForm),
        PageRoute("GET", "users/{}", AdminAPI.userDetails),
        PageRoute("POST", "users/{}/email", AdminAPI.setEmailForm),
        PageRoute("POST", "users/{}/password", AdminAPI.setPasswordForm),
        PageRoute("GET", "users/{}/{}", AdminAPI.confirmUserChange),
        PageRoute("POST", "users/{}/{}", AdminAPI.changeUserForm),
    ]

    /// The changes behind a confirmation step.
    enum Verb: String, CaseIterable {
        case disable, enable

        var label: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }

        var consequence: String {
            switch self {
            case .disable:
                "The user's keys and clients are refused from the next request on, and their sessions end, until you enable the user again."
            case .enable: "The user's keys and clients work again (those that are themselves enabled and unexpired), and they may sign in."
            }
        }
    }

    /// The fixed notices after a change (`?done=`).
    static let notices: [String: String] = [
        "added": "The user is added. Set a password so they can sign in.",
        "email": "The e-mail address is saved.",
        "password": "The password is set; the user's other sessions have ended.",
        "disable": "The user is disabled.",
        "enable": "The user is enabled.",
    ]
}

extension AdminAPI {
    // MARK: List and add

    /// What the add-user form was sent with, to show it again next to its errors.
    struct UserDraft {
        var name = ""
        var email = ""
        var errors: [String: String] = [:]
    }

    /// `GET /admin/users`: every user, by name, and the add form.
    func userList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        return .page(try userListPage(context, UserDraft()))
    }

    private func userListPage(_ context: PageContext, _ draft: UserDraft, status: Int = 200) throws -> HTMLPage {
        let admin = try adminOperations(context)
        let users = try admin.users().sorted { $0.name < $1.name }
        let now = clock.now
        return HTMLPage("Users", section: .users, status: status) { html in
            if users.isEmpty {
                html.element("p", text: "No users yet.")
            } else {
                listTable(
                    &html, caption: "\(users.count) user\(users.count == 1 ? "" : "s"), by name",
                    heads: ["Name", "Status", "E-mail", "Keys", "Created"]
                ) {
                    html in
                    for user in users {
                        html.element("tr") { html in
                            cell(&html, "Name") { html in
                                html.element("a", [.init("href", context.link("/admin/users/", user.name))], text: user.name)
                            }
                            cell(&html, "Status") { html in statusBadge(&html, user.status.rawValue) }
                            cell(&html, "E-mail", text: user.email ?? "none")
                            cell(&html, "Keys") { html in
                                html.element(
                                    "a",
                                    [
                                        .init("href", context.link("/admin/?user=" + PageContext.encode(user.name))),
                                        .init("aria-label", "Keys of " + user.name),
                                    ],
                                    text: String(user.keyCount))
                            }
                            cell(&html, "Created") { html in PageFormat.time(&html, user.createdAt, now: now) }
                        }
                    }
                }
            }
            html.element("h2", [.init("id", "add")], text: "Add a user")
            errorSummary(&html, draft.errors, "The user was not added")
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link("/admin/users"))]) { html in
                context.csrfField(&html)
                textField(
                    &html, "name", label: "Name", value: draft.name, error: draft.errors["name"],
                    hint: "letters, digits and . _ @ -, at most 64; it is the REMOTE_USER backends see", required: true, maxLength: 64)
                textField(
                    &html, "email", label: "E-mail (optional)", value: draft.email, error: draft.errors["email"],
                    hint: "where access-request and expiry notices go", type: "email", autocomplete: "off")
                html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: "Add user") }
            }
        }
    }

    /// `POST /admin/users`: the user, then their page; or the list again with the errors.
    func addUserForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let form = try context.form(["name", "email"])
        var draft = UserDraft(name: try form.string("name") ?? "", email: try form.string("email") ?? "")
        if draft.name.isEmpty {
            draft.errors["name"] = "Give the user a name."
        } else if !Admin.validName(draft.name) {
            draft.errors["name"] = "Use letters, digits and . _ @ - only (not dots alone), at most 64."
        }
        if !draft.errors.isEmpty { return .page(try userListPage(context, draft, status: 400)) }
        do {
            _ = try admin.addUser(draft.name, email: draft.email.isEmpty ? nil : draft.email)
        } catch {
            guard let refusal = AdminError.from(error), refusal.status < 500, refusal.reason != .forbidden else { throw error }
            switch refusal.reason {
            case .conflict: draft.errors["name"] = "A user with this name exists already."
            case _ where refusal.message.contains("e-mail"): draft.errors["email"] = "Not an e-mail address (one local@domain, no spaces)."
            default: draft.errors["name"] = Self.sentence(refusal.message)
            }
            return .page(try userListPage(context, draft, status: refusal.status))
        }
        return .redirect("/admin/users/" + PageContext.encode(draft.name) + "?done=added")
    }

    // MARK: One user

    /// What the forms of a user's page were sent with (never a password).
    struct UserForms {
        var email: String?
        var errors: [String: String] = [:]
    }

    /// `GET /admin/users/{name}`: the user's facts and the forms that change them.
    func userDetails(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done"])
        return .page(try userPage(context, captures[0], UserForms(), notice: query["done"].flatMap { UserPages.notices[$0] }))
    }

    private func userPage(_ context: PageContext, _ name: String, _ forms: UserForms, notice: String? = nil, status: Int = 200) throws -> HTMLPage {
        let admin = try adminOperations(context)
        let user = try admin.user(name)
        let groups = try admin.groups().filter { $0.members.contains(user.name) }.map(\.name)
        let principal = Principal.user(user.name).description
        let roles = try admin.roles().filter { $0.grantedTo.contains(principal) }.map(\.name)
        let now = clock.now
        let base = "/admin/users/" + PageContext.encode(user.name)
        return HTMLPage("User \(user.name)", section: .users, status: status) { html in
            doneNotice(&html, notice)
            errorSummary(&html, forms.errors, "Nothing was changed")
            html.element("dl", [.init("class", "facts")]) { html in
                html.element("dt", text: "Name")
                html.element("dd", text: user.name)
                html.element("dt", text: "Status")
                html.element("dd") { html in statusBadge(&html, user.status.rawValue) }
                html.element("dt", text: "E-mail")
                html.element("dd", text: user.email ?? "none")
                html.element("dt", text: "Keys")
                html.element("dd") { html in
                    html.element("a", [.init("href", context.link("/admin/?user=" + PageContext.encode(user.name)))], text: "\(user.keyCount) (show)")
                }
                html.element("dt", text: "Groups")
                html.element("dd") { html in linkList(&html, groups, context: context, base: "/admin/groups/", none: "none") }
                html.element("dt", text: "Roles granted directly")
                html.element("dd") { html in linkList(&html, roles, context: context, base: "/admin/roles/", none: "none") }
                html.element("dt", text: "Created")
                html.element("dd") { html in PageFormat.time(&html, user.createdAt, now: now) }
            }
            html.element("p", [.init("class", "actions")]) { html in
                let verb: UserPages.Verb = user.status == .active ? .disable : .enable
                html.element(
                    "a", [.init("class", "button secondary"), .init("href", context.link(base + "/" + verb.rawValue))], text: verb.label + " user")
            }

            html.element("h2", text: "E-mail")
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link(base + "/email"))]) { html in
                context.csrfField(&html)
                textField(
                    &html, "email", label: "E-mail address", value: forms.email ?? user.email ?? "", error: forms.errors["email"],
                    hint: "empty removes it", type: "email", autocomplete: "off")
                html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: "Save e-mail") }
            }

            html.element("h2", text: "Password")
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link(base + "/password"))]) { html in
                context.csrfField(&html)
                textField(
                    &html, "password", label: "New password", value: "", error: forms.errors["password"],
                    hint: "8 to 1024 bytes; the user's other sessions end", type: "password", required: true, autocomplete: "new-password")
                textField(
                    &html, "password_confirm", label: "New password again", value: "", error: forms.errors["password_confirm"], hint: nil,
                    type: "password", required: true, autocomplete: "new-password")
                html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: "Set password") }
            }
        }
    }

    /// `POST /admin/users/{name}/email`: sets or (empty) removes the address.
    func setEmailForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let name = captures[0]
        let email = try context.form(["email"]).string("email")
        do {
            try admin.setEmail(name, email)
        } catch let error as AdminError where error.reason == .invalidArgument {
            return .page(
                try userPage(
                    context, name, UserForms(email: email, errors: ["email": "Not an e-mail address (one local@domain, no spaces)."]), status: 400))
        }
        return .redirect("/admin/users/" + PageContext.encode(name) + "?done=email")
    }

    /// `POST /admin/users/{name}/password`: the two fields must match. An admin setting their own
    /// keeps this session; every other session of the user ends.
    func setPasswordForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let name = captures[0]
        let form = try context.form(["password", "password_confirm"])
        let password = try form.string("password") ?? ""
        let again = try form.string("password_confirm") ?? ""
        var errors: [String: String] = [:]
        if password.isEmpty {
            errors["password"] = "Enter the new password."
        } else if (try? Admin.checkPassword(password)) == nil {
            errors["password"] = "A password has 8 to 1024 bytes."
        } else if again != password {
            errors["password_confirm"] = "The two passwords differ."
        }
        if !errors.isEmpty { return .page(try userPage(context, name, UserForms(errors: errors), status: 400)) }
        var keeping: [UInt8]? = nil
        if name == context.user, case .session(let idHash, _)? = context.caller?.via { keeping = idHash }
        try admin.setPassword(name, password, keeping: keeping)
        return .redirect("/admin/users/" + PageContext.encode(name) + "?done=password")
    }

    // MARK: Disable and enable

    private func userVerb(_ context: PageContext, _ captures: [String]) throws -> (UserPages.Verb, UserRow, Admin) {
        let admin = try adminOperations(context)
        guard let verb = UserPages.Verb(rawValue: captures[1]) else { throw AdminError.noSuchEndpoint }
        return (verb, try admin.user(captures[0]), admin)
    }

    /// `GET /admin/users/{name}/{disable|enable}`: what will happen, and the button that does it.
    func confirmUserChange(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        let (verb, user, _) = try userVerb(context, captures)
        var consequence = verb.consequence
        if verb == .disable && user.name == context.user { consequence += " This is you: you will be signed out." }
        let base = "/admin/users/" + PageContext.encode(user.name)
        return .page(
            confirmation(
                context, title: "\(verb.label) user \(user.name)?", section: .users,
                facts: [("User", user.name), ("Status", user.status.rawValue), ("Keys", String(user.keyCount))], consequence: consequence,
                action: base + "/" + verb.rawValue, button: verb.label, danger: verb == .disable, cancel: base))
    }

    /// `POST /admin/users/{name}/{disable|enable}`.
    func changeUserForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let (verb, user, admin) = try userVerb(context, captures)
        _ = try context.form([])
        try admin.setUser(user.name, verb == .disable ? .disable : .enable)
        return .redirect("/admin/users/" + PageContext.encode(user.name) + "?done=" + verb.rawValue)
    }

    // MARK: Shared by the admin pages

    /// The operations, once the caller is known to hold `admin`: every admin page starts here, so
    /// a non-admin gets the 403 page (`forbidden`) before anything is read.
    func adminOperations(_ context: PageContext) throws -> Admin {
        let admin = context.operations
        try admin.requireAdmin()
        return admin
    }

    /// The notice of a finished change (a fixed text, never from the request).
    func doneNotice(_ html: inout HTML, _ text: String?) {
        guard let text else { return }
        html.element("p", [.init("class", "notice"), .init("role", "status")], text: text)
    }

    /// The alert above a form sent back with errors.
    func errorSummary(_ html: inout HTML, _ errors: [String: String], _ what: String) {
        guard !errors.isEmpty else { return }
        html.element("p", [.init("class", "notice bad"), .init("role", "alert")], text: what + ": see the marked fields.")
    }

    /// A labelled input (`field`) with its value, hint and error.
    func textField(
        _ html: inout HTML, _ id: String, name: String? = nil, label: String, value: String, error: String?, hint: String?,
        type: String = "text", required: Bool = false, maxLength: Int? = nil, autocomplete: String? = nil, list: String? = nil
    ) {
        field(&html, id, label, error: error, hint: hint) { html, described in
            var attributes: [HTML.Attribute] = [.init("type", type), .init("id", id), .init("name", name ?? id)]
            if type != "password" { attributes.append(.init("value", value)) }
            if let maxLength { attributes.append(.init("maxlength", String(maxLength))) }
            if let autocomplete { attributes.append(.init("autocomplete", autocomplete)) }
            if let list { attributes.append(.init("list", list)) }
            if required { attributes.append("required") }
            html.void("input", attributes + described)
        }
    }

    /// A table that turns into cards on narrow screens. Its box scrolls sideways when the table is
    /// wider than the page, so it takes the keyboard focus (a table of text has nothing else to
    /// focus), as a region named by the caption.
    func listTable(_ html: inout HTML, caption: String, heads: [String], _ rows: (inout HTML) -> Void) {
        html.element("div", [.init("class", "table"), .init("role", "region"), .init("aria-label", caption), .init("tabindex", "0")]) { html in
            html.element("table", [.init("class", "cards")]) { html in
                html.element("caption", [.init("class", "muted")], text: caption)
                html.element("thead") { html in
                    html.element("tr") { html in
                        for head in heads { html.element("th", [.init("scope", "col")], text: head) }
                    }
                }
                html.element("tbody", [], rows)
            }
        }
    }

    /// One cell, labelled for the card layout.
    func cell(_ html: inout HTML, _ label: String, _ content: (inout HTML) -> Void) {
        html.element("td", [.init("data-label", label)], content)
    }

    func cell(_ html: inout HTML, _ label: String, text: String) {
        html.element("td", [.init("data-label", label)], text: text)
    }

    func statusBadge(_ html: inout HTML, _ status: String) {
        html.element("span", [.init("class", "status " + status)], text: status)
    }

    /// Names as links to their pages, comma-separated, or `none`.
    func linkList(_ html: inout HTML, _ names: [String], context: PageContext, base: String, none: String) {
        if names.isEmpty {
            html.text(none)
            return
        }
        for (index, name) in names.enumerated() {
            if index > 0 { html.text(", ") }
            html.element("a", [.init("href", context.link(base, name))], text: name)
        }
    }

    /// The confirmation step of a destructive change: the facts, what will happen, the button.
    func confirmation(
        _ context: PageContext, title: String, section: Section, facts: [(String, String)], consequence: String, action: String,
        button: String, danger: Bool, cancel: String
    ) -> HTMLPage {
        HTMLPage(title, section: section) { html in
            html.element("dl", [.init("class", "facts")]) { html in
                for (term, value) in facts {
                    html.element("dt", text: term)
                    html.element("dd", text: value)
                }
            }
            html.element("p", text: consequence)
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link(action))]) { html in
                context.csrfField(&html)
                html.element("div", [.init("class", "actions")]) { html in
                    html.element("button", [.init("type", "submit")] + (danger ? [.init("class", "danger")] : []), text: button)
                    html.element("a", [.init("class", "button secondary"), .init("href", context.link(cancel))], text: "Cancel")
                }
            }
        }
    }

    /// An operation's message as a sentence for the page: capitalised, with a full stop.
    static func sentence(_ message: String) -> String {
        guard let first = message.first else { return message }
        let text = first.uppercased() + message.dropFirst()
        return text.hasSuffix(".") ? text : text + "."
    }
}
