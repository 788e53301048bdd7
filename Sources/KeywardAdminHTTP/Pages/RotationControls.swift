import KeywardAdmin
import KeywardCore
import KeywardCrypto

/// What the pages of every rotatable credential share (services' keys and JWT secrets, signed-
/// request credentials' secrets): a rotation step as a one-button form, disabled with the rule
/// beside it when `RotationSet.refusal(of:now:)` forbids it; the page that asks for the password
/// again before a delete or a reveal; a secret with its copy button; and a reveal form that works
/// once.
extension AdminAPI {
    /// A refusal of the rotation rules as a sentence beside its button.
    static func reason(_ refusal: RotationRefusal) -> String {
        var text = refusal.description.hasSuffix(".") ? refusal.description : refusal.description + "."
        // "secret 2 is ..." starts a sentence; a credential id (kws_...) keeps its case.
        if let first = text.split(separator: " ").first, !first.contains("_"), let c = text.first, c.isLowercase {
            text = c.uppercased() + text.dropFirst()
        }
        return text
    }

    /// A one-button form in a credential's row; disabled, with the rule beside it, when the rules refuse it.
    func ruleButton(
        _ html: inout HTML, _ context: PageContext, _ label: String, named: String, action: String, refusal: RotationRefusal?, reasonId: String
    ) {
        html.element("form", [.init("method", "post"), .init("action", context.link(action))]) { html in
            context.csrfField(&html)
            var attributes: [HTML.Attribute] = [.init("type", "submit"), .init("class", "secondary"), .init("aria-label", named)]
            if refusal != nil { attributes += ["disabled", .init("aria-describedby", reasonId)] }
            html.element("button", attributes, text: label)
            if let refusal { html.element("span", [.init("class", "reason"), .init("id", reasonId)], text: Self.reason(refusal)) }
        }
    }

    /// The actions of one rotatable secret's row, under `item` (its path, ending in `/`): Reveal
    /// when it can be shown again; Discard for an active one; Reactivate and Delete for an inactive
    /// one; nothing for a retiring one, which goes by itself. `member` is its id in `set`, `name`
    /// how the labels call it, `reasonKey` what tells its reasons' ids apart.
    func rotationActions(
        _ html: inout HTML, _ context: PageContext, item: String, member: String, name: String, reasonKey: String, state: String,
        set: RotationSet, now: Int64, revealable: Bool
    ) {
        html.element("ul", [.init("class", "actions"), .init("aria-label", "Actions for " + name)]) { html in
            if revealable {
                html.element("li") { html in
                    html.element("a", [.init("href", context.link(item + "reveal")), .init("aria-label", "Reveal " + name)], text: "Reveal")
                }
            }
            switch state {
            case "active":
                html.element("li") { html in
                    ruleButton(
                        &html, context, "Discard", named: "Discard " + name, action: item + "discard",
                        refusal: set.refusal(of: .discard(member), now: now), reasonId: "discard-" + reasonKey)
                }
            case "inactive":
                html.element("li") { html in
                    ruleButton(
                        &html, context, "Reactivate", named: "Reactivate " + name, action: item + "reactivate",
                        refusal: set.refusal(of: .reactivate(member), now: now), reasonId: "reactivate-" + reasonKey)
                }
                html.element("li") { html in
                    html.element("a", [.init("href", context.link(item + "delete")), .init("aria-label", "Delete " + name)], text: "Delete")
                }
            default:
                break
            }
        }
    }

    /// A confirmation step that asks for the signed-in user's password again.
    func passwordPage(
        _ context: PageContext, section: Section, title: String, facts: [(String, String)], consequence: String, action: String,
        hidden: [(String, String)], button: String, danger: Bool, cancel: String, error: String?, refused: String?, status: Int
    ) -> HTMLPage {
        HTMLPage(title, section: section, status: status) { html in
            if let refused { html.element("p", [.init("class", "notice bad"), .init("role", "alert")], text: refused) }
            html.element("dl", [.init("class", "facts")]) { html in
                for (term, value) in facts {
                    html.element("dt", text: term)
                    html.element("dd", text: value)
                }
            }
            html.element("p", text: consequence)
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link(action))]) { html in
                context.csrfField(&html)
                for (name, value) in hidden {
                    html.void("input", [.init("type", "hidden"), .init("name", name), .init("value", value)])
                }
                textField(
                    &html, "password", label: "Your password", value: "", error: error,
                    hint: "the one you sign in with as \(context.user): this needs it again", type: "password", required: true,
                    autocomplete: "current-password")
                html.element("div", [.init("class", "actions")]) { html in
                    html.element("button", [.init("type", "submit")] + (danger ? [.init("class", "danger")] : []), text: button)
                    html.element("a", [.init("class", "button secondary"), .init("href", context.link(cancel))], text: "Cancel")
                }
            }
        }
    }

    /// The refusal of a password that did not match (`Admin.requirePassword`), as opposed to
    /// other refusals of the same code.
    static func isWrongPassword(_ refusal: AdminError) -> Bool {
        refusal.reason == .forbidden && refusal.message.hasSuffix("it did not match.")
    }

    /// A secret with its heading, its credential id and a copy button (shown by the script).
    func secretBlock(_ html: inout HTML, id: String, heading: String, credential: String, secret: String) {
        html.element("h2", [.init("id", id + "-label")], text: heading)
        html.element("p", [.init("class", "muted")]) { html in
            html.text("Id ")
            html.element("code", text: credential)
        }
        html.element("div", [.init("class", "secret")]) { html in
            html.element("code", [.init("id", id), .init("aria-labelledby", id + "-label")], text: secret)
            html.element(
                "button",
                [.init("type", "button"), .init("class", "secondary"), .init("data-copy", id), .init("aria-label", "Copy the " + heading), "hidden"],
                text: "Copy")
            html.element("span", [.init("id", id + "-status"), .init("role", "status")], text: "")
        }
    }

    // MARK: The reveal form, once

    /// What a reveal form's token says when it comes back.
    enum RevealFormState { case fresh, used, expired }

    /// How long a reveal form may be sent after it was shown, in seconds.
    static let revealFormLifetime: Int64 = 600

    /// What one reveal form is for: the audit action a reveal writes, the credential it names,
    /// and the `detail` it carries (a secret's serial), if any.
    struct RevealSubject {
        var action: String
        var credential: String
        var detail: String?
    }

    /// The token of a reveal form, so it works once: a browser's reload sends the same POST again,
    /// and must not show the secret a second time. It carries when the form was made and the id of
    /// the newest audit record of a reveal then, under an HMAC keyed by the session's CSRF token
    /// (so it is worth nothing outside this session) over what is revealed. The form is used once
    /// a reveal of it is audited after that record. Nothing is kept in a process: the audit, which
    /// every reveal writes, is the record (as under CGI).
    func revealToken(_ context: PageContext, _ subject: RevealSubject) throws -> String {
        let now = clock.now
        let newest =
            try context.operations.store.auditRecords(afterId: 0, since: now, user: nil, action: subject.action, limit: 1_000).last?.id ?? 0
        return "\(now).\(newest)." + Self.revealMAC(context, subject, at: now, after: newest)
    }

    private static func revealMAC(_ context: PageContext, _ subject: RevealSubject, at: Int64, after: Int64) -> String {
        let message = "keyward reveal v1\n\(subject.action)\n\(subject.credential)\n\(subject.detail ?? "")\n\(at)\n\(after)"
        return Base64URL.encode(HMACKey(Array(context.csrf.utf8)).authenticationCode(message))
    }

    /// Whether the form `token` came with may still reveal `subject`.
    func revealFormState(_ context: PageContext, _ subject: RevealSubject, token: String?) throws -> RevealFormState {
        let parts = (token ?? "").split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let at = Int64(parts[0]), let after = Int64(parts[1]),
            ConstantTime.equals(Array(parts[2].utf8), Array(Self.revealMAC(context, subject, at: at, after: after).utf8))
        else { throw AdminError.invalid("The reveal form is broken: open it again from the credential's page.") }
        let now = clock.now
        guard at <= now, now - at <= Self.revealFormLifetime else { return .expired }
        // The audit's detail is the operation's, then "; via <session>".
        func names(_ detail: String?) -> Bool {
            guard let wanted = subject.detail else { return true }
            guard let detail else { return false }
            return detail == wanted || detail.hasPrefix(wanted + ";")
        }
        // Every reveal since the form was made, a page at a time (however many others revealed).
        var cursor = after
        while true {
            let page = try context.operations.store.auditRecords(afterId: cursor, since: at, user: nil, action: subject.action, limit: 1_000)
            if page.contains(where: { $0.event.credential == subject.credential && names($0.event.detail) }) { return .used }
            guard page.count == 1_000, let last = page.last else { return .fresh }
            cursor = last.id
        }
    }
}
