import Foundation
import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

/// The audit trail, filtered and paged with whether its hash chain holds, and the explain tool,
/// for admins. Both only read, so their forms are GET forms: bookmarkable, and without the CSRF
/// token, which must never appear in a URL.
enum AuditPages {
    static let routes: [PageRoute] = [
        PageRoute("GET", "audit", AdminAPI.auditList),
        PageRoute("GET", "explain", AdminAPI.explainPage),
    ]

    /// Records per page.
    static let pageSize = 50
    /// Records read from the store at a time while filtering.
    static let batch = 1_000
    /// The highest page number asked for that is honoured (more is the last page).
    static let maxPage = 100_000
}

extension Admin {
    /// Walks the audit trail's hash chain from the first record (admins only): how many records
    /// it checked, the first whose link does not hold (nil when intact), and the last link.
    func verifiedAuditChain() throws -> (records: Int, firstBroken: Int64?, head: [UInt8]) {
        try requireAdmin()
        let key = store.auditKey ?? HMACKey(AuditChain.key(masterKey: keyFile.masterKey))
        return try store.verifyAudit(key: key)
    }
}

extension AdminAPI {
    // MARK: Audit

    /// The audit page's filters as sent, with an error per field that does not parse.
    struct AuditFilter {
        var user = ""
        var action = ""
        var credential = ""
        var since = ""
        var until = ""
        var errors: [String: String] = [:]

        /// The query string that keeps these filters (for the pager).
        var query: String {
            let pairs = [("user", user), ("action", action), ("credential", credential), ("since", since), ("until", until)]
            return pairs.filter { !$0.1.isEmpty }.map { $0.0 + "=" + AuditFilter.encode($0.1) }.joined(separator: "&")
        }

        static func encode(_ value: String) -> String {
            value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
        }

        /// RFC 3986 unreserved characters, and `:` (ASCII only: `.alphanumerics` holds every script's letters).
        static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:")
    }

    /// `GET /admin/audit`: records newest first, filtered by user, action, credential and time,
    /// paged; and whether the hash chain verifies.
    func auditList(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let query = try context.request.query(["user", "action", "credential", "since", "until", "page"])
        var filter = AuditFilter(
            user: query["user"] ?? "", action: query["action"] ?? "", credential: query["credential"] ?? "", since: query["since"] ?? "",
            until: query["until"] ?? "")
        let now = clock.now
        let since = filter.since.isEmpty ? nil : Self.auditTime(filter.since, now: now, end: false)
        let until = filter.until.isEmpty ? nil : Self.auditTime(filter.until, now: now, end: true)
        if !filter.since.isEmpty && since == nil { filter.errors["since"] = "Give a date (2026-01-31) or an instant (2026-01-31T12:00:00Z)." }
        if !filter.until.isEmpty && until == nil { filter.errors["until"] = "Give a date (2026-01-31) or an instant (2026-01-31T12:00:00Z)." }
        let pageNumber = min(AuditPages.maxPage, max(1, Int(query["page"] ?? "1") ?? 1))
        let chain = try admin.verifiedAuditChain()

        // Oldest first from the store; only the newest `pageNumber` pages are kept while counting.
        let keep = pageNumber * AuditPages.pageSize
        var window: [AuditRecord] = []
        var total = 0
        if filter.errors.isEmpty {
            var after: Int64 = 0
            let credential = filter.credential
            while true {
                let batch = try admin.auditRecords(
                    afterId: after, since: since, user: filter.user.isEmpty ? nil : filter.user, action: filter.action.isEmpty ? nil : filter.action,
                    limit: AuditPages.batch)
                for record in batch {
                    if let until, record.event.at >= until { continue }
                    if !credential.isEmpty && !Self.concerns(record.event, credential: credential) { continue }
                    total += 1
                    window.append(record)
                    if window.count >= 2 * keep { window.removeFirst(window.count - keep) }
                }
                guard batch.count == AuditPages.batch, let last = batch.last else { break }
                after = last.id
            }
        }
        let shown = Array(window.suffix(keep).reversed().dropFirst((pageNumber - 1) * AuditPages.pageSize).prefix(AuditPages.pageSize))

        return .page(
            HTMLPage("Audit", section: .audit, status: filter.errors.isEmpty ? 200 : 400) { html in
                if let broken = chain.firstBroken {
                    html.element("p", [.init("class", "notice bad"), .init("role", "alert"), .init("id", "chain")]) { html in
                        html.element("strong", text: "The hash chain is broken at record #\(broken). ")
                        html.text("That record or the one before it was changed, inserted or removed; \(chain.records - 1) records before it verify.")
                    }
                } else {
                    html.element("p", [.init("class", "notice"), .init("role", "status"), .init("id", "chain")]) { html in
                        html.element("strong", text: "The hash chain verifies: \(chain.records) record\(chain.records == 1 ? "" : "s"). ")
                        html.text("Its head is ")
                        html.element("code", text: Hex.encode(chain.head))
                        html.text("; keep it elsewhere to notice records cut off the end.")
                    }
                }
                auditFilterForm(&html, context, filter)
                guard filter.errors.isEmpty else { return }
                if total == 0 {
                    html.element("p", text: filter.query.isEmpty ? "No records yet." : "No records match.")
                    return
                }
                listTable(
                    &html, caption: "\(total) record\(total == 1 ? "" : "s"), newest first",
                    heads: ["#", "Time", "Actor", "Action", "Target", "Credential", "From", "Reason", "Detail"]
                ) { html in
                    for record in shown {
                        let e = record.event
                        html.element("tr", record.id == chain.firstBroken ? [.init("class", "broken")] : []) { html in
                            cell(&html, "#", text: String(record.id))
                            cell(&html, "Time") { html in PageFormat.time(&html, e.at, now: now) }
                            cell(&html, "Actor", text: e.actor)
                            cell(&html, "Action") { html in html.element("code", text: e.action) }
                            cell(&html, "Target", text: e.target ?? "")
                            cell(&html, "Credential") { html in if let c = e.credential { html.element("code", text: c) } }
                            cell(&html, "From") { html in
                                if let ip = e.sourceIP { html.element("span", [.init("class", "mono")], text: PageFormat.address(ip)) }
                            }
                            cell(&html, "Reason", text: e.reason ?? "")
                            cell(&html, "Detail", text: e.detail ?? "")
                        }
                    }
                }
                pager(
                    &html, context, page: pageNumber, total: total, size: AuditPages.pageSize,
                    base: "/admin/audit" + (filter.query.isEmpty ? "" : "?" + filter.query))
            })
    }

    private func auditFilterForm(_ html: inout HTML, _ context: PageContext, _ filter: AuditFilter) {
        html.element("form", [.init("class", "stack"), .init("method", "get"), .init("action", context.link("/admin/audit"))]) { html in
            html.element("fieldset") { html in
                html.element("legend", text: "Filter")
                textField(&html, "user", label: "User", value: filter.user, error: nil, hint: "records by this user or about them")
                textField(&html, "action", label: "Action", value: filter.action, error: nil, hint: "such as key.create, user.add, check.deny")
                textField(
                    &html, "credential", label: "Credential", value: filter.credential, error: nil,
                    hint: "a public id such as kwk_…: records about it or made with it")
                textField(
                    &html, "since", label: "Since", value: filter.since, error: filter.errors["since"], hint: "a date (2026-01-31, UTC) or an instant"
                )
                textField(
                    &html, "until", label: "Until", value: filter.until, error: filter.errors["until"],
                    hint: "a date (up to its end, UTC) or an instant")
            }
            html.element("div", [.init("class", "actions")]) { html in
                html.element("button", [.init("type", "submit")], text: "Filter")
                html.element("a", [.init("class", "button secondary"), .init("href", context.link("/admin/audit"))], text: "Clear")
            }
        }
    }

    /// True when the record is about `credential` or made with it (`via` in the detail).
    static func concerns(_ event: AuditEvent, credential: String) -> Bool {
        if event.credential == credential { return true }
        guard let detail = event.detail else { return false }
        return detail.split(separator: ";").contains { $0.trimmingCharacters(in: .whitespaces) == "via " + credential }
    }

    /// A filter time: a date (`2026-01-31`, UTC: its start, or for `end` the start of the next
    /// day), else Unix seconds, an ISO 8601 instant or a duration ago (for `end`, one second on,
    /// so the bound includes it).
    static func auditTime(_ text: String, now: Int64, end: Bool) -> Int64? {
        let bytes = Array(text.utf8)
        if bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") {
            guard let t = ISO8601DateFormatter().date(from: text + "T00:00:00Z").map({ Int64($0.timeIntervalSince1970) }) else { return nil }
            return end ? t + 86_400 : t
        }
        return instant(text, now: now).map { end ? $0 + 1 : $0 }
    }

    // MARK: Explain

    /// What the explain form was sent with.
    struct ExplainDraft {
        var credential = ""
        var method = "GET"
        var path = ""
        var ip = ""
        var errors: [String: String] = [:]
    }

    /// `GET /admin/explain`: the form, and when it was sent, the decision and how it was reached.
    func explainPage(_ context: PageContext, _ captures: [String]) throws -> PageResult {
        let admin = try adminOperations(context)
        let query = try context.request.query(["credential", "method", "path", "ip"])
        let asked = query["credential"] != nil || query["path"] != nil || query["ip"] != nil || query["method"] != nil
        var draft = ExplainDraft(
            credential: query["credential"] ?? "", method: query["method"] ?? "GET", path: query["path"] ?? "", ip: query["ip"] ?? "")
        var result: (decision: Decision, steps: [String])?
        if asked {
            if draft.path.isEmpty { draft.errors["path"] = "Give the request's path." }
            if !(1...16).contains(draft.method.utf8.count) || !draft.method.utf8.allSatisfy({ ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A }) {
                draft.errors["method"] = "An HTTP method is a name of letters, such as GET."
            }
            if !draft.ip.isEmpty && IPAddress(draft.ip) == nil { draft.errors["ip"] = "Not an IPv4 or IPv6 address." }
            if draft.errors.isEmpty {
                do {
                    result = try admin.explain(
                        credential: draft.credential.isEmpty ? nil : draft.credential, path: draft.path, method: draft.method,
                        ip: draft.ip.isEmpty ? nil : draft.ip)
                } catch let error as AdminError where error.reason == .invalidArgument {
                    draft.errors["credential"] = "Not a credential id: \(SecretKind.idShape)."
                }
            }
        }
        return .page(
            HTMLPage("Explain a decision", section: .explain, status: draft.errors.isEmpty ? 200 : 400) { html in
                html.element("p", text: "What the check would decide for a request, and why; nothing is recorded and no secret is needed.")
                errorSummary(&html, draft.errors, "Nothing was explained")
                html.element("form", [.init("class", "stack"), .init("method", "get"), .init("action", context.link("/admin/explain"))]) { html in
                    textField(
                        &html, "credential", label: "Credential", value: draft.credential, error: draft.errors["credential"],
                        hint: "a key's or client's public id (kwk_…, kwc_…); empty for a request without one", autocomplete: "off")
                    textField(
                        &html, "method", label: "Method", value: draft.method, error: draft.errors["method"], hint: nil, required: true, maxLength: 16
                    )
                    textField(
                        &html, "path", label: "Path", value: draft.path, error: draft.errors["path"],
                        hint: "the request URI, such as /api/reports/1?x=y",
                        required: true)
                    textField(
                        &html, "ip", label: "Client address", value: draft.ip, error: draft.errors["ip"], hint: "IPv4 or IPv6; empty for none",
                        autocomplete: "off")
                    html.element("div", [.init("class", "actions")]) { html in html.element("button", [.init("type", "submit")], text: "Explain") }
                }
                guard let (decision, steps) = result else { return }
                html.element("h2", text: "Decision")
                switch decision {
                case .allow(let identity):
                    html.element("p", [.init("id", "decision")]) { html in
                        html.element("span", [.init("class", "status active")], text: "allowed")
                        html.text(" 200")
                    }
                    html.element("dl", [.init("class", "facts")]) { html in
                        html.element("dt", text: "User")
                        html.element("dd", text: identity.user)
                        html.element("dt", text: "Credential")
                        html.element("dd") { html in html.element("code", text: identity.credential) }
                        html.element("dt", text: "Method")
                        html.element("dd", text: identity.method.rawValue)
                        html.element("dt", text: "Scopes")
                        html.element("dd") { html in codeList(&html, identity.scopes) }
                    }
                case .deny(let denial):
                    html.element("p", [.init("id", "decision")]) { html in
                        html.element("span", [.init("class", "status disabled")], text: "denied")
                        html.text(" \(denial.reason.kind.status) ")
                        html.element("code", text: denial.reason.rawValue)
                        html.text(" · " + denial.reason.message)
                    }
                }
                html.element("h2", text: "Steps")
                html.element("ol") { html in
                    for step in steps { html.element("li", text: step) }
                }
            })
    }
}
