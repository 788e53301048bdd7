/// Every page route, one list per area. A new area is a file of handlers and one line here.
enum PageRoutes {
    static let all: [PageRoute] =
        SignInPages.routes + KeyPages.routes + ClientPages.routes + ServicePages.routes + HMACPages.routes + RequestPages.routes + SessionPages.routes
        + UserPages.routes
        + AccessPages.routes + SigningKeyPages.routes + AuditPages.routes

    /// The navigation sections that have pages.
    static let sections: [Section] = [
        .keys, .clients, .services, .hmac, .requests, .sessions, .users, .groups, .roles, .resources, .signingKeys, .audit, .explain,
    ]

    /// The sign-in page's path (below the mount), with where to go after it and why it is shown.
    static func signInPath(next: String?, ended: Bool) -> String {
        var query: [String] = []
        if let next { query.append("next=" + PageContext.encode(next)) }
        if ended { query.append("ended=1") }
        return "/admin/login" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    }
}
