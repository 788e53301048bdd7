import KeywardCore

/// Turns a `Decision` into the reply each server expects.
///
/// - nginx `auth_request` (a responder with `KEYWARD_CHECK=1`): allow is 200 with `X-Auth-*`;
///   nginx passes only 2xx, 401 and 403, so a throttle answers 403 with `X-Auth-Status: 429`
///   and the shipped snippet turns it into a real 429.
/// - Authorizer role (Apache `mod_authnz_fcgi`, lighttpd): allow is 200 with `Variable-*` only,
///   because Apache would pass any other header to the client (FastCGI 1.0 §6.3).
/// - nginx with the body (`keyward-signed.conf`, `KEYWARD_CHECK=body`): Keyward is the location's
///   responder and gets the request body. Allow is `X-Accel-Redirect` to the named location
///   `KEYWARD_NEXT` with the `X-Auth-*` headers, which that location reads as
///   `$upstream_http_x_auth_*` (nginx keeps the method and the buffered body for a named
///   location, and sends none of these headers to the client); a deny goes to the client as is.
enum CheckResponder {
    enum Flavour: Equatable {
        case nginx, authorizer
        case nginxBody(next: String)

        /// True when the request's body comes with it.
        var carriesBody: Bool {
            if case .nginxBody = self { return true }
            return false
        }
    }

    /// `@name`: a named location nginx can redirect to (letters, digits, `_` and `-`).
    static func isNamedLocation(_ text: String) -> Bool {
        text.utf8.count >= 2 && text.utf8.count <= 64 && text.hasPrefix("@")
            && text.utf8.dropFirst().allSatisfy { c in
                (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                    || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
            }
    }

    static func allow(_ id: Identity, flavour: Flavour) -> Response {
        let scopes = id.scopes.joined(separator: " ")
        // A service's credential also names the service; the user is its owner.
        switch flavour {
        case .nginx:
            var headers = [
                ("X-Auth-User", id.user), ("X-Auth-Subject", id.subject), ("X-Auth-Credential", id.credential),
                ("X-Auth-Method", id.method.rawValue), ("X-Auth-Scopes", scopes),
            ]
            if let service = id.service { headers.append(("X-Auth-Service", service)) }
            headers.append(("Content-Length", "0"))
            return Response(status: 200, headers: headers)
        case .authorizer:
            var headers = [
                ("Variable-REMOTE_USER", id.user), ("Variable-AUTH_CREDENTIAL", id.credential),
                ("Variable-AUTH_METHOD", id.method.rawValue), ("Variable-AUTH_SCOPES", scopes),
            ]
            if let service = id.service { headers.append(("Variable-AUTH_SERVICE", service)) }
            return Response(status: 200, headers: headers)
        case .nginxBody(let next):
            var headers = [
                ("X-Accel-Redirect", next), ("X-Auth-User", id.user), ("X-Auth-Subject", id.subject),
                ("X-Auth-Credential", id.credential), ("X-Auth-Method", id.method.rawValue), ("X-Auth-Scopes", scopes),
            ]
            if let service = id.service { headers.append(("X-Auth-Service", service)) }
            headers.append(("Content-Length", "0"))
            return Response(status: 200, headers: headers)
        }
    }

    static func deny(_ denial: Denial, flavour: Flavour) -> Response {
        let reason = denial.reason
        let realStatus = reason.kind.status
        let status = flavour == .nginx && realStatus == 429 ? 403 : realStatus
        var challenge = "Bearer realm=\"keyward\""
        if let error = reason.oauthError, reason.kind != .throttle {
            challenge += ", error=\"\(error)\", error_description=\"\(reason.message)\""
        }
        // No credential presented: no error code, in the body as in the challenge (RFC 6750 §3.1),
        // and no X-Auth-Oauth-Error for nginx's body either.
        var headers: [(String, String)] = [
            ("WWW-Authenticate", challenge),
            ("X-Auth-Error-Code", reason.rawValue),
            ("X-Auth-Error", reason.message),
        ]
        if let oauthError = reason.oauthError { headers.append(("X-Auth-Oauth-Error", oauthError)) }
        headers.append(("X-Auth-Status", String(realStatus)))
        if let wait = denial.retryAfter { headers.append(("Retry-After", String(max(1, wait)))) }
        var body = ErrorBody(code: reason.rawValue, reason.message)
        body.error = reason.oauthError
        return .error(status, body, headers: headers)
    }
}
