import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

/// The keys access tokens are signed with, for admins: the list and the rotate form.
enum SigningKeyPages {
    static let routes: [PageRoute] = [
        PageRoute("GET", "signing-keys", AdminAPI.signingKeyList),
        PageRoute("POST", "signing-keys/rotate", AdminAPI.rotateSigningKeyForm),
    ]

    /// The algorithms offered, the default first, with what each is for.
    static let algorithms: [(SigningAlgorithm, String)] = [
        (.es256, "ECDSA P-256; every common JOSE library verifies it by default"),
        (.rs256, "RSA 2048; for verifiers that know nothing else"),
        (.ed25519, "Ed25519 under its RFC 9864 name"),
        (.edDSA, "Ed25519 under the RFC 8037 name, for PyJWT and authlib"),
    ]

    /// How long rotated-out keys stay published when the form says nothing (the CLI's default).
    static let defaultRetireAfter = "1h"
}

extension AdminAPI {
    /// What the rotate form was sent with.
    struct RotationDraft {
        var algorithm = SigningAlgorithm.standard.rawValue
        var retireAfter = SigningKeyPages.defaultRetireAfter
        var errors: [String: String] = [:]
    }

    /// `GET /admin/signing-keys`: every signing key, newest first, and the rotate form.
    func signingKeyList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let query = try context.request.query(["done"])
        let notice = query["done"] == "rotated" ? "A new signing key now signs; the keys before it verify tokens until their time is up." : nil
        return .page(try signingKeyPage(context, RotationDraft(), notice: notice))
    }

    private func signingKeyPage(_ context: PageContext, _ draft: RotationDraft, notice: String? = nil, status: Int = 200) throws -> HTMLPage {
        let keys = try adminOperations(context).signingKeys()
        let now = clock.now
        let signing = keys.first { $0.status == "active" }?.kid
        return HTMLPage("Signing keys", section: .signingKeys, status: status) { html in
            doneNotice(&html, notice)
            if keys.isEmpty {
                html.element("p", text: "No signing keys yet: the first one is made when the server starts, or by rotating here.")
            } else {
                listTable(
                    &html, caption: "\(keys.count) signing key\(keys.count == 1 ? "" : "s"), newest first",
                    heads: ["Key id", "Algorithm", "Status", "Created", "Retired", "Published until"]
                ) { html in
                    for key in keys {
                        html.element("tr") { html in
                            cell(&html, "Key id") { html in html.element("code", text: key.kid) }
                            cell(&html, "Algorithm", text: key.alg)
                            cell(&html, "Status") { html in
                                statusBadge(&html, key.status)
                                if key.kid == signing { html.element("span", [.init("class", "muted")], text: " signs now") }
                            }
                            cell(&html, "Created") { html in PageFormat.time(&html, key.createdAt, now: now) }
                            cell(&html, "Retired") { html in PageFormat.time(&html, key.retiredAt, now: now, never: "not retired") }
                            cell(&html, "Published until") { html in
                                PageFormat.time(&html, key.publishedUntil, now: now, never: key.retiredAt == nil ? "while it signs" : "unpublished")
                            }
                        }
                    }
                }
            }
            html.element("h2", text: "Rotate")
            html.element(
                "p",
                text:
                    "A new key of the chosen algorithm signs from now on; the keys that signed before stay in the JWKS and verify tokens for the time given, which should exceed the token lifetime."
            )
            errorSummary(&html, draft.errors, "No key was made")
            html.element("form", [.init("class", "stack"), .init("method", "post"), .init("action", context.link("/admin/signing-keys/rotate"))]) {
                html in
                context.csrfField(&html)
                html.element("fieldset", draft.errors["alg"] == nil ? [] : [.init("aria-describedby", "alg-error")]) { html in
                    html.element("legend", text: "Algorithm")
                    for (algorithm, meaning) in SigningKeyPages.algorithms {
                        let id = "alg-" + algorithm.rawValue
                        var attributes: [HTML.Attribute] = [
                            .init("type", "radio"), .init("id", id), .init("name", "alg"), .init("value", algorithm.rawValue),
                        ]
                        if algorithm.rawValue == draft.algorithm { attributes.append("checked") }
                        html.element("div") { html in
                            html.void("input", attributes)
                            html.element("label", [.init("for", id)]) { html in
                                html.element("code", text: algorithm.rawValue)
                                html.element("span", [.init("class", "muted")], text: " " + meaning + (algorithm == .standard ? " (default)" : ""))
                            }
                        }
                    }
                    if let error = draft.errors["alg"] { html.element("span", [.init("class", "error"), .init("id", "alg-error")], text: error) }
                }
                textField(
                    &html, "retire_after", label: "Retire the others after", value: draft.retireAfter, error: draft.errors["retire_after"],
                    hint: "a duration such as 30m, 1h or 1d", required: true)
                html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: "Rotate") }
            }
        }
    }

    /// `POST /admin/signing-keys/rotate`.
    func rotateSigningKeyForm(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let form = try context.form(["alg", "retire_after"])
        var draft = RotationDraft(
            algorithm: try form.string("alg") ?? SigningAlgorithm.standard.rawValue,
            retireAfter: try form.string("retire_after") ?? "")
        let algorithm = SigningKeyPages.algorithms.first { $0.0.rawValue == draft.algorithm }?.0
        if algorithm == nil { draft.errors["alg"] = "Pick one of the algorithms." }
        var seconds: Int64 = 0
        if case .seconds(let s)? = Lifetime(draft.retireAfter) {
            seconds = s
        } else {
            draft.errors["retire_after"] = "Give a duration such as 30m, 1h or 1d."
        }
        guard let algorithm, draft.errors.isEmpty else { return .page(try signingKeyPage(context, draft, status: 400)) }
        try admin.rotateSigningKey(algorithm, retireOthersAfter: seconds)
        return .redirect("/admin/signing-keys?done=rotated")
    }
}
