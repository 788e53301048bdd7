import Foundation
import KeywardAdmin
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

/// The page of the one-time link that hands an approved key's secret to its requester: `GET`
/// shows a page with a button (link prefetchers and mail scanners only ever GET), `POST` reveals
/// the secret once (`Admin.reveal`).
extension Admin {
    /// The HTTP answer for `/admin/reveal/<token>`: `GET`/`HEAD` a confirmation page with a POST
    /// button (or, when `wantsJSON`, the key id), `POST` the secret once (HTML, or JSON
    /// `{"key_id","secret"}`); a used, expired or unknown link is 410 with the code
    /// `link_used_or_expired`. Every answer is `Cache-Control: no-store` and sends no referrer.
    public func revealResponse(method: String, token: String, wantsJSON: Bool) -> Response {
        do {
            switch method {
            case "GET", "HEAD":
                guard let keyId = try store.revealLinkKey(token: token, now: clock.now) else { return Self.gone(wantsJSON) }
                if wantsJSON {
                    return Self.json(
                        200,
                        .object([
                            ("key_id", .string(keyId)),
                            ("reveal", .string("POST to this URL to see the secret; it works once")),
                        ]))
                }
                return Self.html(
                    200, title: "Reveal API key \(keyId)",
                    """
                    <p>This link shows the secret of API key <code>\(Self.escape(keyId))</code> <strong>once</strong>.
                    After that it is gone, so have somewhere safe to keep the secret ready.</p>
                    <form method="post"><button type="submit">Show the secret</button></form>
                    """)
            case "POST":
                let (keyId, secret) = try Self.reveal(store: store, keyFile: keyFile, clock: clock, token: token, sourceIP: sourceIP)
                if wantsJSON { return Self.json(200, .object([("key_id", .string(keyId)), ("secret", .string(secret))])) }
                return Self.html(
                    200, title: "API key \(keyId)",
                    """
                    <p>The secret of API key <code>\(Self.escape(keyId))</code>, shown only now:</p>
                    <p><code class="secret">\(Self.escape(secret))</code></p>
                    <p>Send it as <code>Authorization: Bearer &lt;secret&gt;</code>. This link no longer works.</p>
                    """)
            default:
                var response =
                    wantsJSON
                    ? Self.json(405, ErrorBody(code: "method_not_allowed", "Use GET or POST.").json)
                    : Self.html(405, title: "Method not allowed", "<p>Use GET or POST.</p>")
                response.headers.append(("Allow", "GET, HEAD, POST"))
                return response
            }
        } catch let error as AdminError where error == .linkGone {
            return Self.gone(wantsJSON)
        } catch {
            return wantsJSON
                ? Self.json(500, AdminError.internalError.body.json)
                : Self.html(500, title: "Internal error", "<p>The link could not be read; try again later.</p>")
        }
    }

    static func gone(_ wantsJSON: Bool) -> Response {
        let error = AdminError.linkGone
        if wantsJSON { return json(error.status, error.body.json) }
        return html(
            error.status, title: "Link used or expired",
            """
            <p>\(escape(error.message))</p>
            <p>Ask the owner of the API or an administrator for a new secret (<code>keyward key regenerate</code>).</p>
            """)
    }

    /// Headers of every reveal answer: never cached, never a referrer, no scripts, no framing.
    static let revealHeaders: [(String, String)] = [
        ("Cache-Control", "no-store"),
        ("Pragma", "no-cache"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Robots-Tag", "noindex, nofollow"),
        ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    ]

    static func json(_ status: Int, _ value: JSON) -> Response {
        Response(status: status, headers: [("Content-Type", "application/json")] + revealHeaders, body: Array((value.text + "\n").utf8))
    }

    static func html(_ status: Int, title: String, _ content: String) -> Response {
        let page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
            <meta name="referrer" content="no-referrer"><title>\(escape(title)) - Keyward</title>
            <style>body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em}
            code.secret{font-size:1.2em;word-break:break-all;background:#eee;padding:.3em}</style></head>
            <body><main><h1>\(escape(title))</h1>
            \(content)
            </main></body></html>

            """
        return Response(status: status, headers: [("Content-Type", "text/html; charset=utf-8")] + revealHeaders, body: Array(page.utf8))
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
