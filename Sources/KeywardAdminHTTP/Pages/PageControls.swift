import KeywardAdmin
import KeywardCore

/// The controls many pages share: a labelled field, the expiry choices, the pager.
extension AdminAPI {
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

    /// The scopes of a new credential: a checkbox per resource the owner may reach (`chosen` the
    /// ones ticked), and for admins a field of other path prefixes. Errors under `scope` and
    /// `other_scopes` sit next to their control.
    func scopeChoices(
        _ html: inout HTML, _ context: PageContext, reachable: [Resource], chosen: [String], other: String, errors: [String: String],
        ownerWord: String
    ) {
        html.element("fieldset", errors["scope"] == nil ? [] : [.init("aria-describedby", "scope-error")]) { html in
            html.element("legend", text: "Scopes")
            if reachable.isEmpty {
                html.element(
                    "p", [.init("class", "muted")],
                    text: context.isAdmin
                        ? "No resources are registered for this \(ownerWord); name paths below, or none for every path."
                        : "You may not call any resource yet: ask for access first.")
            }
            for (index, resource) in reachable.enumerated() {
                let id = "scope-\(index)"
                var attributes: [HTML.Attribute] = [
                    .init("type", "checkbox"), .init("id", id), .init("name", "scope"), .init("value", resource.scope.description),
                ]
                if chosen.contains(resource.scope.description) { attributes.append("checked") }
                html.element("div") { html in
                    html.void("input", attributes)
                    html.element("label", [.init("for", id)]) { html in
                        html.text(resource.name + " ")
                        html.element("code", text: resource.scope.description)
                    }
                }
            }
            if let error = errors["scope"] { html.element("span", [.init("class", "error"), .init("id", "scope-error")], text: error) }
        }
        if context.isAdmin {
            textField(
                &html, "other_scopes", label: "Other scopes", value: other, error: errors["other_scopes"],
                hint: "path prefixes such as /api/reports/ or GET:/api/, separated by spaces; none at all means every path")
        }
    }

    /// The scopes `scopeChoices` sent: the ticked ones and the other ones, each parsed; one that
    /// does not parse is an error next to the control it came from.
    static func sentScopes(chosen: [String], other: String, errors: inout [String: String]) -> [PathScope] {
        var scopes: [PathScope] = []
        for text in chosen + AccessPages.words(other) {
            guard let scope = PathScope(text) else {
                errors[chosen.contains(text) ? "scope" : "other_scopes"] = "Not a path scope: \(text.prefix(64))"
                continue
            }
            scopes.append(scope)
        }
        return scopes
    }

    /// An admin's filter of a list by whose it is: a user name, or `*` for everyone's (GET, no token).
    func ownerFilter(_ html: inout HTML, _ context: PageContext, action: String, label: String, owner: String) {
        guard context.isAdmin else { return }
        html.element("form", [.init("method", "get"), .init("action", context.link(action)), .init("class", "actions")]) { html in
            html.element("label", [.init("for", "owner")], text: label)
            html.void(
                "input",
                [.init("type", "text"), .init("id", "owner"), .init("name", "user"), .init("value", owner), .init("aria-describedby", "owner-hint")])
            html.element("span", [.init("id", "owner-hint"), .init("class", "hint muted")], text: "a user name, or * for everyone")
            html.element("button", [.init("type", "submit"), .init("class", "secondary")], text: "Show")
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

    /// The expiry choices as radio buttons named `expires` (values `7d` ... `never`): those the
    /// caller may pick (without the admin privilege, none beyond the self-service limit).
    func expiryChoices(_ html: inout HTML, _ context: PageContext, legend: String, selected: Int64? = 30, error: String? = nil) {
        html.element("fieldset", error == nil ? [] : [.init("aria-describedby", "expires-error")]) { html in
            html.element("legend", text: legend)
            for choice in ExpiryChoice.allowed(admin: context.isAdmin, limits: config.limits) {
                let id = "expires-" + (choice.days.map(String.init) ?? "never")
                var attributes: [HTML.Attribute] = [.init("type", "radio"), .init("id", id), .init("name", "expires"), .init("value", choice.value)]
                if choice.days == selected { attributes.append("checked") }
                html.void("input", attributes)
                html.element("label", [.init("for", id)], text: choice.label)
            }
            if let error { html.element("span", [.init("class", "error"), .init("id", "expires-error")], text: error) }
        }
    }
}

/// One expiry choice of the pages' forms: 7, 30 or 90 days, or never.
struct ExpiryChoice: Sendable {
    let label: String
    /// Days, or nil for never.
    let days: Int64?

    static let all = [
        ExpiryChoice(label: "7 days", days: 7), .init(label: "30 days", days: 30), .init(label: "90 days", days: 90),
        .init(label: "Never", days: nil),
    ]

    /// The form value: `7d` ... or `never`.
    var value: String { days.map { "\($0)d" } ?? "never" }

    /// The choices the caller may pick: all for admins, else none beyond the self-service limit.
    static func allowed(admin: Bool, limits: Limits) -> [ExpiryChoice] {
        admin ? all : all.filter { ($0.days ?? .max) <= limits.maxSelfServiceLifetime / 86_400 }
    }

    /// The choice a form sent (`30d` when none), or nil when it is none of them.
    static func sent(_ text: String?) -> ExpiryChoice? {
        let value = text ?? "30d"
        return all.first { $0.value == value }
    }

    /// As the operations take it.
    var lifetime: Lifetime { days.map { .seconds($0 * 86_400) } ?? .never }
}
