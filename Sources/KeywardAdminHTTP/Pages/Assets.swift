import KeywardCrypto
import KeywardGateway

/// The pages' stylesheet and script, embedded in the binary and served under a name that
/// carries their hash, so they can be cached for a year and a new build is fetched at once.
struct Assets {
    let path: String
    let type: String
    let bytes: [UInt8]

    init(_ name: String, _ suffix: String, type: String, _ bytes: [UInt8]) {
        let tag = Digest.sha256(bytes).prefix(6).map { String($0, radix: 16).leftPadded(2) }.joined()
        path = "/admin/assets/\(name)-\(tag).\(suffix)"
        self.type = type
        self.bytes = bytes
    }

    static let stylesheet = Assets("keyward", "css", type: "text/css; charset=utf-8", PackageResources.keyward_css)
    static let script = Assets("keyward", "js", type: "text/javascript; charset=utf-8", PackageResources.keyward_js)

    /// The asset served at `name` (the last path segment), or nil.
    static func named(_ name: String) -> Assets? {
        [stylesheet, script].first { $0.path.hasSuffix("/" + name) }
    }

    var response: Response {
        Response(
            status: 200,
            headers: [
                ("Content-Type", type), ("Cache-Control", "public, max-age=31536000, immutable"),
                ("X-Content-Type-Options", "nosniff"),
            ], body: bytes)
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
