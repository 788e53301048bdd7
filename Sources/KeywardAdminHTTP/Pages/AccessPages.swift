import KeywardAdmin
import KeywardCore
import KeywardGateway
import KeywardStore

/// Groups and their members, roles and their grants, and resources, for admins. Deleting any of
/// them goes through a confirmation step.
enum AccessPages {
    static let routes: [PageRoute] = [
        PageRoute("GET", "groups", AdminAPI.groupList),
        PageRoute("POST", "groups", AdminAPI.addGroupForm),
        PageRoute("GET", "groups/{}", AdminAPI.groupDetails),
        PageRoute("POST", "groups/{}/members", AdminAPI.addMemberForm),
        PageRoute("POST", "groups/{}/members/{}/remove", AdminAPI.removeMemberForm),
        PageRoute("GET", "groups/{}/delete", AdminAPI.confirmGroupDelete),
        PageRoute("POST", "groups/{}/delete", AdminAPI.deleteGroupForm),

        PageRoute("GET", "roles", AdminAPI.roleList),
        PageRoute("POST", "roles", AdminAPI.addRoleForm),
        PageRoute("GET", "roles/{}", AdminAPI.roleDetails),
        PageRoute("POST", "roles/{}/grants", AdminAPI.grantRoleForm),
        PageRoute("POST", "roles/{}/grants/{}/revoke", AdminAPI.revokeRoleForm),
        PageRoute("GET", "roles/{}/delete", AdminAPI.confirmRoleDelete),
        PageRoute("POST", "roles/{}/delete", AdminAPI.deleteRoleForm),

        PageRoute("GET", "resources", AdminAPI.resourceList),
        PageRoute("POST", "resources", AdminAPI.addResourceForm),
        PageRoute("GET", "resources/{}", AdminAPI.resourceDetails),
        PageRoute("POST", "resources/{}", AdminAPI.updateResourceForm),
        PageRoute("GET", "resources/{}/delete", AdminAPI.confirmResourceDelete),
        PageRoute("POST", "resources/{}/delete", AdminAPI.deleteResourceForm),
    ]

    /// The fixed notices after a change (`?done=`).
    static let notices: [String: String] = [
        "added": "It is added.",
        "deleted": "It is deleted.",
        "member-added": "The member is added; it takes effect on the next request.",
        "member-removed": "The member is removed; it takes effect on the next request.",
        "granted": "The role is granted; it takes effect on the next request.",
        "revoked": "The role is revoked; it takes effect on the next request.",
        "saved": "The resource is saved; it takes effect on the next request.",
        "unchanged": "Nothing was changed: the form was sent as it was.",
    ]

    /// What each built-in privilege allows, for the role form.
    static func meaning(_ privilege: String) -> String {
        switch privilege {
        case Privilege.admin: "every admin operation, on every user's objects"
        case Privilege.manageOwnKeys: "create and manage one's own keys and clients"
        case Privilege.useAPIKey: "use the admin API with one's own API key"
        default: Privilege.resource(of: privilege).map { "call the resource \($0)" } ?? ""
        }
    }

    /// A CIDR range as stored, its address compressed (RFC 5952): `2001:db8::/32`.
    static func network(_ text: String) -> String {
        guard let slash = text.firstIndex(of: "/") else { return PageFormat.address(text) }
        return PageFormat.address(String(text[..<slash])) + text[slash...]
    }

    /// The words of a list field: separated by spaces, commas or line breaks.
    static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "," || $0.isNewline || $0 == "\t" }).map(String.init)
    }
}

extension AdminAPI {
    // MARK: Groups

    /// `GET /admin/groups`: every group with its members and roles, and the add form.
    func groupList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done"])
        return .page(try groupListPage(context, name: "", error: nil, notice: query["done"] == "deleted" ? "The group is deleted." : nil))
    }

    private func groupListPage(_ context: PageContext, name: String, error: String?, notice: String? = nil, status: Int = 200) throws -> HTMLPage {
        let admin = try adminOperations(context)
        let groups = try admin.groups().sorted { $0.name < $1.name }
        let now = clock.now
        return HTMLPage("Groups", section: .groups, status: status) { html in
            doneNotice(&html, notice)
            if groups.isEmpty {
                html.element("p", text: "No groups yet.")
            } else {
                listTable(
                    &html, caption: "\(groups.count) group\(groups.count == 1 ? "" : "s"), by name", heads: ["Name", "Members", "Roles", "Created"]
                ) {
                    html in
                    for group in groups {
                        html.element("tr") { html in
                            cell(&html, "Name") { html in
                                html.element("a", [.init("href", context.link("/admin/groups/", group.name))], text: group.name)
                            }
                            cell(&html, "Members") { html in linkList(&html, group.members, context: context, base: "/admin/users/", none: "none") }
                            cell(&html, "Roles") { html in linkList(&html, group.roles, context: context, base: "/admin/roles/", none: "none") }
                            cell(&html, "Created") { html in PageFormat.time(&html, group.createdAt, now: now) }
                        }
                    }
                }
            }
            html.element("h2", text: "Add a group")
            errorSummary(&html, error == nil ? [:] : ["name": ""], "The group was not added")
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link("/admin/groups"))]) { html in
                context.csrfField(&html)
                textField(
                    &html, "name", label: "Name", value: name, error: error, hint: "letters, digits and . _ @ -, at most 64", required: true,
                    maxLength: 64)
                html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: "Add group") }
            }
        }
    }

    /// `POST /admin/groups`.
    func addGroupForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let name = try context.form(["name"]).string("name") ?? ""
        if let message = Self.nameProblem(name, "group") { return .page(try groupListPage(context, name: name, error: message, status: 400)) }
        do {
            _ = try admin.addGroup(name)
        } catch {
            guard let refusal = AdminError.from(error), refusal.reason == .conflict || refusal.reason == .invalidArgument else { throw error }
            let message = refusal.reason == .conflict ? "A group with this name exists already." : Self.sentence(refusal.message)
            return .page(try groupListPage(context, name: name, error: message, status: refusal.status))
        }
        return .redirect("/admin/groups/" + PageContext.encode(name) + "?done=added")
    }

    /// `GET /admin/groups/{name}`: members (each with a remove button), the add-member form, roles.
    func groupDetails(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done"])
        return .page(try groupPage(context, captures[0], member: "", error: nil, notice: query["done"].flatMap { AccessPages.notices[$0] }))
    }

    private func groupPage(_ context: PageContext, _ name: String, member: String, error: String?, notice: String? = nil, status: Int = 200) throws
        -> HTMLPage
    {
        let admin = try adminOperations(context)
        let group = try admin.group(name)
        let users = try admin.users().map(\.name).filter { !group.members.contains($0) }.sorted()
        let now = clock.now
        let base = "/admin/groups/" + PageContext.encode(group.name)
        return HTMLPage("Group \(group.name)", section: .groups, status: status) { html in
            doneNotice(&html, notice)
            html.element("dl", [.init("class", "facts")]) { html in
                html.element("dt", text: "Roles")
                html.element("dd") { html in linkList(&html, group.roles, context: context, base: "/admin/roles/", none: "none") }
                html.element("dt", text: "Created")
                html.element("dd") { html in PageFormat.time(&html, group.createdAt, now: now) }
            }
            html.element("p", [.init("class", "actions")]) { html in
                html.element("a", [.init("class", "button secondary"), .init("href", context.link(base + "/delete"))], text: "Delete group")
            }
            html.element("h2", text: "Members")
            if group.members.isEmpty {
                html.element("p", text: "No members yet.")
            } else {
                listTable(&html, caption: "\(group.members.count) member\(group.members.count == 1 ? "" : "s")", heads: ["User", "Actions"]) { html in
                    for user in group.members {
                        html.element("tr") { html in
                            cell(&html, "User") { html in html.element("a", [.init("href", context.link("/admin/users/", user))], text: user) }
                            cell(&html, "Actions") { html in
                                rowButton(
                                    &html, context, "Remove", named: "Remove \(user) from \(group.name)",
                                    action: context.link(base + "/members/", user, "/remove"))
                            }
                        }
                    }
                }
            }
            html.element("h2", text: "Add a member")
            errorSummary(&html, error == nil ? [:] : ["user": ""], "The member was not added")
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link(base + "/members"))]) { html in
                context.csrfField(&html)
                textField(&html, "user", label: "User", value: member, error: error, hint: "the user's name", required: true, list: "users")
                html.element("datalist", [.init("id", "users")]) { html in
                    for user in users { html.void("option", [.init("value", user)]) }
                }
                html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: "Add member") }
            }
        }
    }

    /// `POST /admin/groups/{name}/members`.
    func addMemberForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let group = try admin.group(captures[0])
        let user = try context.form(["user"]).string("user") ?? ""
        if user.isEmpty { return .page(try groupPage(context, group.name, member: user, error: "Name the user to add.", status: 400)) }
        do {
            try admin.setMember(group: group.name, user: user, add: true)
        } catch {
            guard let refusal = AdminError.from(error), refusal.reason == .conflict || refusal.reason == .notFound else { throw error }
            let message = refusal.reason == .conflict ? "This user is a member already." : "There is no user of this name."
            return .page(try groupPage(context, group.name, member: user, error: message, status: refusal.status))
        }
        return .redirect("/admin/groups/" + PageContext.encode(group.name) + "?done=member-added")
    }

    /// `POST /admin/groups/{name}/members/{user}/remove`.
    func removeMemberForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        _ = try context.form([])
        try admin.setMember(group: captures[0], user: captures[1], add: false)
        return .redirect("/admin/groups/" + PageContext.encode(captures[0]) + "?done=member-removed")
    }

    /// `GET /admin/groups/{name}/delete`.
    func confirmGroupDelete(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        let group = try adminOperations(context).group(captures[0])
        let base = "/admin/groups/" + PageContext.encode(group.name)
        return .page(
            confirmation(
                context, title: "Delete group \(group.name)?", section: .groups,
                facts: [
                    ("Members", group.members.isEmpty ? "none" : group.members.joined(separator: ", ")),
                    ("Roles", group.roles.joined(separator: ", ")),
                ],
                consequence:
                    "The members lose what the group's roles and resource audiences gave them, from the next request on. This cannot be undone.",
                action: base + "/delete", button: "Delete", danger: true, cancel: base))
    }

    /// `POST /admin/groups/{name}/delete`.
    func deleteGroupForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        _ = try context.form([])
        try admin.deleteGroup(captures[0])
        return .redirect("/admin/groups?done=deleted")
    }

    // MARK: Roles

    /// What the add-role form was sent with.
    struct RoleDraft {
        var name = ""
        var privileges: [String] = []
        var errors: [String: String] = [:]
    }

    /// `GET /admin/roles`: every role with its privileges and grants, and the add form.
    func roleList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done"])
        return .page(try roleListPage(context, RoleDraft(), notice: query["done"] == "deleted" ? "The role is deleted." : nil))
    }

    private func roleListPage(_ context: PageContext, _ draft: RoleDraft, notice: String? = nil, status: Int = 200) throws -> HTMLPage {
        let admin = try adminOperations(context)
        let roles = try admin.roles().sorted { $0.name < $1.name }
        let known = Privilege.builtIn + (try admin.resources()).map { Privilege.access($0.name) }.sorted()
        let now = clock.now
        return HTMLPage("Roles", section: .roles, status: status) { html in
            doneNotice(&html, notice)
            if roles.isEmpty {
                html.element("p", text: "No roles yet.")
            } else {
                listTable(
                    &html, caption: "\(roles.count) role\(roles.count == 1 ? "" : "s"), by name",
                    heads: ["Name", "Privileges", "Granted to", "Created"]
                ) {
                    html in
                    for role in roles {
                        html.element("tr") { html in
                            cell(&html, "Name") { html in
                                html.element("a", [.init("href", context.link("/admin/roles/", role.name))], text: role.name)
                            }
                            cell(&html, "Privileges") { html in codeList(&html, role.privileges) }
                            cell(&html, "Granted to") { html in codeList(&html, role.grantedTo) }
                            cell(&html, "Created") { html in PageFormat.time(&html, role.createdAt, now: now) }
                        }
                    }
                }
            }
            html.element("h2", text: "Add a role")
            errorSummary(&html, draft.errors, "The role was not added")
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link("/admin/roles"))]) { html in
                context.csrfField(&html)
                textField(
                    &html, "name", label: "Name", value: draft.name, error: draft.errors["name"], hint: "letters, digits and . _ @ -, at most 64",
                    required: true, maxLength: 64)
                html.element("fieldset", draft.errors["privilege"] == nil ? [] : [.init("aria-describedby", "privilege-error")]) { html in
                    html.element("legend", text: "Privileges")
                    for (index, privilege) in known.enumerated() {
                        let id = "privilege-\(index)"
                        var attributes: [HTML.Attribute] = [
                            .init("type", "checkbox"), .init("id", id), .init("name", "privilege"), .init("value", privilege),
                        ]
                        if draft.privileges.contains(privilege) { attributes.append("checked") }
                        html.element("div") { html in
                            html.void("input", attributes)
                            html.element("label", [.init("for", id)]) { html in
                                html.element("code", text: privilege)
                                html.element("span", [.init("class", "muted")], text: " " + AccessPages.meaning(privilege))
                            }
                        }
                    }
                    if let error = draft.errors["privilege"] {
                        html.element("span", [.init("class", "error"), .init("id", "privilege-error")], text: error)
                    }
                }
                html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: "Add role") }
            }
        }
    }

    /// `POST /admin/roles`.
    func addRoleForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let form = try context.form(["name", "privilege"])
        var draft = RoleDraft(name: try form.string("name") ?? "", privileges: try form.strings("privilege") ?? [])
        if let message = Self.nameProblem(draft.name, "role") { draft.errors["name"] = message }
        if draft.privileges.isEmpty { draft.errors["privilege"] = "Pick at least one privilege." }
        if !draft.errors.isEmpty { return .page(try roleListPage(context, draft, status: 400)) }
        do {
            _ = try admin.addRole(draft.name, privileges: draft.privileges)
        } catch {
            guard let refusal = AdminError.from(error), refusal.status < 500, refusal.reason != .forbidden else { throw error }
            switch refusal.reason {
            case .conflict: draft.errors["name"] = "A role with this name exists already."
            case _ where refusal.reason == .notFound || refusal.message.contains("privilege"):
                draft.errors["privilege"] = "Pick privileges from the list: " + Self.sentence(refusal.message)
            default: draft.errors["name"] = Self.sentence(refusal.message)
            }
            return .page(try roleListPage(context, draft, status: refusal.status))
        }
        return .redirect("/admin/roles/" + PageContext.encode(draft.name) + "?done=added")
    }

    /// `GET /admin/roles/{name}`: its privileges, its grants (each with a revoke button) and the grant form.
    func roleDetails(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done"])
        return .page(try rolePage(context, captures[0], to: "", error: nil, notice: query["done"].flatMap { AccessPages.notices[$0] }))
    }

    private func rolePage(_ context: PageContext, _ name: String, to: String, error: String?, notice: String? = nil, status: Int = 200) throws
        -> HTMLPage
    {
        let admin = try adminOperations(context)
        let role = try admin.role(name)
        let principals =
            (try admin.groups()).map { Principal.group($0.name).description } + (try admin.users()).map { Principal.user($0.name).description }
        let now = clock.now
        let base = "/admin/roles/" + PageContext.encode(role.name)
        return HTMLPage("Role \(role.name)", section: .roles, status: status) { html in
            doneNotice(&html, notice)
            html.element("dl", [.init("class", "facts")]) { html in
                html.element("dt", text: "Privileges")
                html.element("dd") { html in codeList(&html, role.privileges) }
                html.element("dt", text: "Created")
                html.element("dd") { html in PageFormat.time(&html, role.createdAt, now: now) }
            }
            html.element("p", [.init("class", "actions")]) { html in
                html.element("a", [.init("class", "button secondary"), .init("href", context.link(base + "/delete"))], text: "Delete role")
            }
            html.element("h2", text: "Granted to")
            if role.grantedTo.isEmpty {
                html.element("p", text: "Nobody yet.")
            } else {
                listTable(&html, caption: "\(role.grantedTo.count) grant\(role.grantedTo.count == 1 ? "" : "s")", heads: ["To", "Actions"]) { html in
                    for principal in role.grantedTo {
                        html.element("tr") { html in
                            cell(&html, "To") { html in html.element("code", text: principal) }
                            cell(&html, "Actions") { html in
                                rowButton(
                                    &html, context, "Revoke", named: "Revoke \(role.name) from \(principal)",
                                    action: context.link(base + "/grants/", principal, "/revoke"))
                            }
                        }
                    }
                }
            }
            html.element("h2", text: "Grant the role")
            errorSummary(&html, error == nil ? [:] : ["to": ""], "The role was not granted")
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link(base + "/grants"))]) { html in
                context.csrfField(&html)
                textField(&html, "to", label: "To", value: to, error: error, hint: "group:NAME or user:NAME", required: true, list: "principals")
                html.element("datalist", [.init("id", "principals")]) { html in
                    for principal in principals where !role.grantedTo.contains(principal) { html.void("option", [.init("value", principal)]) }
                }
                html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: "Grant") }
            }
        }
    }

    /// `POST /admin/roles/{name}/grants`.
    func grantRoleForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let role = try admin.role(captures[0])
        let to = try context.form(["to"]).string("to") ?? ""
        guard let principal = Principal(to) else {
            return .page(try rolePage(context, role.name, to: to, error: "Write group:NAME or user:NAME.", status: 400))
        }
        do {
            try admin.setGrant(role: role.name, principal, grant: true)
        } catch {
            guard let refusal = AdminError.from(error), refusal.reason == .conflict || refusal.reason == .notFound else { throw error }
            let message = refusal.reason == .conflict ? "The role is granted to them already." : "There is no such group or user."
            return .page(try rolePage(context, role.name, to: to, error: message, status: refusal.status))
        }
        return .redirect("/admin/roles/" + PageContext.encode(role.name) + "?done=granted")
    }

    /// `POST /admin/roles/{name}/grants/{principal}/revoke`.
    func revokeRoleForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        _ = try context.form([])
        guard let principal = Principal(captures[1]) else { throw AdminError.noSuchEndpoint }
        try admin.setGrant(role: captures[0], principal, grant: false)
        return .redirect("/admin/roles/" + PageContext.encode(captures[0]) + "?done=revoked")
    }

    /// `GET /admin/roles/{name}/delete`.
    func confirmRoleDelete(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        let role = try adminOperations(context).role(captures[0])
        let base = "/admin/roles/" + PageContext.encode(role.name)
        return .page(
            confirmation(
                context, title: "Delete role \(role.name)?", section: .roles,
                facts: [
                    ("Privileges", role.privileges.joined(separator: " ")),
                    ("Granted to", role.grantedTo.isEmpty ? "nobody" : role.grantedTo.joined(separator: ", ")),
                ],
                consequence: "Everyone it is granted to loses its privileges from the next request on. This cannot be undone.",
                action: base + "/delete", button: "Delete", danger: true, cancel: base))
    }

    /// `POST /admin/roles/{name}/delete`.
    func deleteRoleForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        _ = try context.form([])
        try admin.deleteRole(captures[0])
        return .redirect("/admin/roles?done=deleted")
    }

    // MARK: Resources

    /// What a resource form was sent with (or, to edit, the resource as it is).
    struct ResourceDraft {
        var name = ""
        var path = ""
        var methods = ""
        var anonymous = false
        var audience = ""
        var owner = ""
        var networks = ""
        var errors: [String: String] = [:]

        init() {}

        init(_ row: ResourceRow) {
            name = row.name
            path = row.path
            methods = row.methods.joined(separator: " ")
            anonymous = row.anonymous
            audience = row.audience.joined(separator: " ")
            owner = row.owner ?? ""
            networks = row.allowIPs.map(AccessPages.network).joined(separator: " ")
        }
    }

    /// `GET /admin/resources`: every resource and the add form.
    func resourceList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done"])
        return .page(try resourceListPage(context, ResourceDraft(), notice: query["done"] == "deleted" ? "The resource is deleted." : nil))
    }

    private func resourceListPage(_ context: PageContext, _ draft: ResourceDraft, notice: String? = nil, status: Int = 200) throws -> HTMLPage {
        let admin = try adminOperations(context)
        let resources = try admin.resources().sorted { $0.name < $1.name }
        let users = try admin.users().map(\.name)
        let now = clock.now
        return HTMLPage("Resources", section: .resources, status: status) { html in
            doneNotice(&html, notice)
            if resources.isEmpty {
                html.element("p", text: "No resources yet: every path is decided by the credentials' own scopes.")
            } else {
                listTable(
                    &html, caption: "\(resources.count) resource\(resources.count == 1 ? "" : "s"), by name",
                    heads: ["Name", "Path", "Methods", "Anonymous", "Audience", "Owner", "Networks"]
                ) { html in
                    for resource in resources {
                        html.element("tr") { html in
                            cell(&html, "Name") { html in
                                html.element("a", [.init("href", context.link("/admin/resources/", resource.name))], text: resource.name)
                            }
                            cell(&html, "Path") { html in html.element("code", text: resource.path) }
                            cell(&html, "Methods", text: resource.methods.isEmpty ? "every method" : resource.methods.joined(separator: " "))
                            cell(&html, "Anonymous", text: resource.anonymous ? "yes" : "no")
                            cell(&html, "Audience") { html in audienceList(&html, resource, now: now) }
                            cell(&html, "Owner", text: resource.owner ?? "none")
                            cell(&html, "Networks") { html in
                                if resource.allowIPs.isEmpty {
                                    html.text("every address")
                                } else {
                                    codeList(&html, resource.allowIPs.map(AccessPages.network))
                                }
                            }
                        }
                    }
                }
            }
            html.element("h2", text: "Add a resource")
            resourceForm(&html, context, draft, action: "/admin/resources", button: "Add resource", users: users, naming: true)
        }
    }

    /// The fields of a resource, to add one (`naming`) or edit one.
    private func resourceForm(
        _ html: inout HTML, _ context: PageContext, _ draft: ResourceDraft, action: String, button: String, users: [String], naming: Bool
    ) {
        errorSummary(&html, draft.errors, naming ? "The resource was not added" : "The resource was not saved")
        html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link(action))]) { html in
            context.csrfField(&html)
            if naming {
                textField(
                    &html, "name", label: "Name", value: draft.name, error: draft.errors["name"],
                    hint: "letters, digits and . _ @ -, at most 64; access:NAME is the privilege to call it", required: true, maxLength: 64)
            }
            textField(
                &html, "path", label: "Path", value: draft.path, error: draft.errors["path"], hint: "a normalised path prefix such as /api/reports/",
                required: true)
            textField(
                &html, "methods", label: "Methods", value: draft.methods, error: draft.errors["methods"],
                hint: "upper-case names separated by spaces, such as GET POST; empty for every method (GET also allows HEAD)")
            html.element("fieldset") { html in
                html.element("legend", text: "Anonymous access")
                var attributes: [HTML.Attribute] = [
                    .init("type", "checkbox"), .init("id", "anonymous"), .init("name", "anonymous"), .init("value", "on"),
                ]
                if draft.anonymous { attributes.append("checked") }
                html.void("input", attributes)
                html.element("label", [.init("for", "anonymous")], text: "allow requests without a credential (X-Auth-Method: anonymous)")
            }
            textField(
                &html, "audience", label: "Audience", value: draft.audience, error: draft.errors["audience"],
                hint:
                    "who may call it besides its owner and holders of access:NAME: group:NAME and user:NAME, separated by spaces; changing it makes entries from approved access requests permanent"
            )
            textField(
                &html, "owner", label: "Owner", value: draft.owner, error: draft.errors["owner"],
                hint: "the user who decides access requests; empty for admins only",
                list: "resource-owners")
            html.element("datalist", [.init("id", "resource-owners")]) { html in
                for user in users { html.void("option", [.init("value", user)]) }
            }
            textField(
                &html, "networks", label: "Networks", value: draft.networks, error: draft.errors["networks"],
                hint: "CIDR ranges or addresses such as 10.0.0.0/8 2001:db8::/32, separated by spaces; empty for every address")
            html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: button) }
        }
    }

    /// The form's fields as a spec, with an error per field that does not parse.
    private func resourceDraft(_ form: FormBody, naming: Bool, admin: Admin) throws -> (ResourceDraft, ResourceSpec) {
        var draft = ResourceDraft()
        if naming { draft.name = try form.string("name") ?? "" }
        draft.path = try form.string("path") ?? ""
        draft.methods = try form.string("methods") ?? ""
        draft.anonymous = try form.string("anonymous") != nil
        draft.audience = try form.string("audience") ?? ""
        draft.owner = try form.string("owner") ?? ""
        draft.networks = try form.string("networks") ?? ""
        var spec = ResourceSpec(anonymous: draft.anonymous)
        if naming, let message = Self.nameProblem(draft.name, "resource") { draft.errors["name"] = message }
        let methods = AccessPages.words(draft.methods).map { $0.uppercased() }
        if draft.path.isEmpty {
            draft.errors["path"] = "Give the path prefix."
        } else if PathScope(prefix: draft.path, methods: []) == nil {
            draft.errors["path"] = "Not a normalised path prefix: it starts with /, has no spaces, commas, dot segments or double slashes."
        } else if let scope = PathScope(prefix: draft.path, methods: methods) {
            spec.path = scope
        } else {
            draft.errors["methods"] = "Methods are names of letters only, such as GET."
        }
        let groups = Set(try admin.groups().map(\.name))
        let users = Set(try admin.users().map(\.name))
        var audience: [Principal] = []
        for word in AccessPages.words(draft.audience) {
            switch Principal(word) {
            case .group(let g)? where groups.contains(g): audience.append(.group(g))
            case .user(let u)? where users.contains(u): audience.append(.user(u))
            case nil: draft.errors["audience"] = "Not group:NAME or user:NAME: \(word.prefix(64))"
            default: draft.errors["audience"] = "No such group or user: \(word.prefix(64))"
            }
        }
        spec.audience = audience
        if draft.owner.isEmpty {
            spec.owner = .some(nil)
        } else if users.contains(draft.owner) {
            spec.owner = .some(draft.owner)
        } else {
            draft.errors["owner"] = "There is no user of this name."
        }
        var networks: [CIDR] = []
        for word in AccessPages.words(draft.networks) {
            guard let range = CIDR(word) else {
                draft.errors["networks"] = "Not a CIDR range or address: \(word.prefix(64))"
                continue
            }
            networks.append(range)
        }
        spec.allowedNetworks = networks
        return (draft, spec)
    }

    /// `POST /admin/resources`.
    func addResourceForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let form = try context.form(["name", "path", "methods", "anonymous", "audience", "owner", "networks"])
        var (draft, spec) = try resourceDraft(form, naming: true, admin: admin)
        if !draft.errors.isEmpty { return .page(try resourceListPage(context, draft, status: 400)) }
        if spec.owner == .some(nil) { spec.owner = nil }
        do {
            _ = try admin.addResource(draft.name, spec)
        } catch {
            guard let refusal = AdminError.from(error), refusal.status < 500, refusal.reason != .forbidden else { throw error }
            draft.errors[refusal.reason == .conflict ? "name" : "path"] =
                refusal.reason == .conflict ? "A resource with this name or this path exists already." : Self.sentence(refusal.message)
            return .page(try resourceListPage(context, draft, status: refusal.status))
        }
        return .redirect("/admin/resources/" + PageContext.encode(draft.name) + "?done=added")
    }

    /// `GET /admin/resources/{name}`: the resource in its edit form.
    func resourceDetails(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done"])
        let row = try adminOperations(context).resource(captures[0])
        return .page(try resourcePage(context, row, ResourceDraft(row), notice: query["done"].flatMap { AccessPages.notices[$0] }))
    }

    private func resourcePage(_ context: PageContext, _ row: ResourceRow, _ draft: ResourceDraft, notice: String? = nil, status: Int = 200) throws
        -> HTMLPage
    {
        let users = try adminOperations(context).users().map(\.name)
        let now = clock.now
        let base = "/admin/resources/" + PageContext.encode(row.name)
        return HTMLPage("Resource \(row.name)", section: .resources, status: status) { html in
            doneNotice(&html, notice)
            html.element("dl", [.init("class", "facts")]) { html in
                html.element("dt", text: "Privilege")
                html.element("dd") { html in html.element("code", text: Privilege.access(row.name)) }
                html.element("dt", text: "Audience now")
                html.element("dd") { html in audienceList(&html, row, now: now) }
                html.element("dt", text: "Created")
                html.element("dd") { html in PageFormat.time(&html, row.createdAt, now: now) }
            }
            html.element("p", [.init("class", "actions")]) { html in
                html.element("a", [.init("class", "button secondary"), .init("href", context.link(base + "/delete"))], text: "Delete resource")
            }
            html.element("h2", text: "Edit")
            resourceForm(&html, context, draft, action: base, button: "Save", users: users, naming: false)
        }
    }

    /// `POST /admin/resources/{name}`: changes what differs from the resource as it is.
    func updateResourceForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let row = try admin.resource(captures[0])
        let form = try context.form(["path", "methods", "anonymous", "audience", "owner", "networks"])
        var (draft, spec) = try resourceDraft(form, naming: false, admin: admin)
        draft.name = row.name
        if !draft.errors.isEmpty { return .page(try resourcePage(context, row, draft, status: 400)) }
        // Only what changed: an untouched audience keeps the ends of its time-limited entries.
        if let scope = spec.path, Self.slashed(scope.prefix) == Self.slashed(row.path), scope.methods == row.methods { spec.path = nil }
        if spec.anonymous == row.anonymous { spec.anonymous = nil }
        if Set(spec.audience?.map(\.description) ?? []) == Set(row.audience) { spec.audience = nil }
        if spec.owner == .some(row.owner) { spec.owner = nil }
        if spec.allowedNetworks?.map(\.description) == row.allowIPs.compactMap({ CIDR($0)?.description }) { spec.allowedNetworks = nil }
        guard spec.path != nil || spec.anonymous != nil || spec.audience != nil || spec.owner != nil || spec.allowedNetworks != nil else {
            return .redirect("/admin/resources/" + PageContext.encode(row.name) + "?done=unchanged")
        }
        do {
            _ = try admin.updateResource(row.name, spec)
        } catch {
            guard let refusal = AdminError.from(error), refusal.status < 500, refusal.reason != .forbidden, refusal.reason != .notFound else {
                throw error
            }
            draft.errors["path"] = refusal.reason == .conflict ? "Another resource has this path." : Self.sentence(refusal.message)
            return .page(try resourcePage(context, row, draft, status: refusal.status))
        }
        return .redirect("/admin/resources/" + PageContext.encode(row.name) + "?done=saved")
    }

    /// `GET /admin/resources/{name}/delete`.
    func confirmResourceDelete(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        _ = try context.request.query([])
        let row = try adminOperations(context).resource(captures[0])
        let base = "/admin/resources/" + PageContext.encode(row.name)
        return .page(
            confirmation(
                context, title: "Delete resource \(row.name)?", section: .resources,
                facts: [
                    ("Path", row.path), ("Methods", row.methods.isEmpty ? "every method" : row.methods.joined(separator: " ")),
                    ("Owner", row.owner ?? "none"),
                ],
                consequence:
                    "Its path is no longer a resource: from the next request on, only the credentials' own scopes decide there, its audience and anonymous access end, and roles lose access:\(row.name). This cannot be undone.",
                action: base + "/delete", button: "Delete", danger: true, cancel: base))
    }

    /// `POST /admin/resources/{name}/delete`.
    func deleteResourceForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        _ = try context.form([])
        try admin.deleteResource(captures[0])
        return .redirect("/admin/resources?done=deleted")
    }

    // MARK: Helpers

    /// A one-button form in a table row, its button named for a screen reader (`Remove alice from ops`).
    private func rowButton(_ html: inout HTML, _ context: PageContext, _ label: String, named: String, action: String) {
        html.element("form", [.init("method", "post"), .init("action", action)]) { html in
            context.csrfField(&html)
            html.element("button", [.init("type", "submit"), .init("class", "secondary"), .init("aria-label", named)], text: label)
        }
    }

    /// Words in `<code>`, separated by spaces, or `none`.
    func codeList(_ html: inout HTML, _ words: [String], none: String = "none") {
        if words.isEmpty {
            html.text(none)
            return
        }
        for (index, word) in words.enumerated() {
            if index > 0 { html.text(" ") }
            html.element("code", text: word)
        }
    }

    /// A resource's audience, each entry with its end when it has one.
    private func audienceList(_ html: inout HTML, _ row: ResourceRow, now: Int64) {
        if row.audience.isEmpty {
            html.text("none")
            return
        }
        html.element("ul") { html in
            for entry in row.audience {
                html.element("li") { html in
                    html.element("code", text: entry)
                    if let until = row.audienceUntil[entry] {
                        html.text(" until ")
                        PageFormat.time(&html, until, now: now)
                    }
                }
            }
        }
    }

    /// Why `name` cannot name a `what`, or nil when it can.
    static func nameProblem(_ name: String, _ what: String) -> String? {
        if name.isEmpty { return "Give the \(what) a name." }
        if !Admin.validName(name) { return "Use letters, digits and . _ @ - only (not dots alone), at most 64." }
        return nil
    }

    /// A prefix with its trailing slash, as resources are stored.
    static func slashed(_ prefix: String) -> String { prefix.hasSuffix("/") ? prefix : prefix + "/" }
}
