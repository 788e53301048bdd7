// keyward-pages-bench: the admin pages' key list, server side, against the JSON API's in the same run.
//
// A throwaway database gets a signed-in admin and N keys (default 1000, `keyward-pages-bench N`);
// then, in one process, with no web server in between:
//   PAGE  GET /admin/?user=root   the HTML key list (25 newest of the N), as a browser asks for it
//   API   GET /admin/api/keys?user=root&limit=25   the same rows as JSON: the baseline
// Each is run `rounds` times after a warm-up; the median per request is printed, with PAGE/API.
// Also printed: the page weight, bytes of the list's HTML plus its stylesheet and script.
import Foundation
import KeywardAdmin
import KeywardAdminHTTP
import KeywardCore
import KeywardGateway
import KeywardStore

let count = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 1_000
let rounds = 200
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("keyward-pages-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: dir) }
let db = dir + "/keyward.db"
let keyFile = try KeyFile.create(path: db + ".key")
_ = try Store.initialize(path: db)

let clock = SystemClock()
let cli = Admin(store: try Store(path: db), keyFile: keyFile, clock: clock, actor: .commandLine("bench"))
_ = try cli.addUser("root")
try cli.setPassword("root", "bench password")
_ = try cli.addRole("admins", privileges: [Privilege.admin, Privilege.useAPIKey])
try cli.setGrant(role: "admins", .user("root"), grant: true)
let start = Date()
for i in 0..<count {
    _ = try cli.createKey(
        user: "root", name: "key \(i) <b>\"quoted\"</b>", expires: .seconds(30 * 86_400),
        scopes: [PathScope("/api/reports/")!], networks: [])
}
print("SETUP \(count) keys in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")

let sink = CollectingSink()
let api = AdminAPI(
    config: AdminAPIConfig(databasePath: db, keyFile: keyFile, mount: "/keyward"), clock: clock,
    throttle: FailureThrottle(limit: 0, windowSeconds: 60), audit: sink, usage: sink, log: { print($0) })

@MainActor func request(_ method: String, _ uri: String, headers: [String: String] = [:], body: String = "") -> Response {
    var values = ["REQUEST_METHOD": method, "REQUEST_URI": "/keyward" + uri, "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "bench.local"]
    values.merge(headers) { $1 }
    if !body.isEmpty {
        values["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        values["CONTENT_LENGTH"] = String(body.utf8.count)
    }
    let path = String(uri.split(separator: "?", maxSplits: 1)[0])
    return api.respond(DictionaryParams(values, body: Array(body.utf8)), path: path, method: method)
}

let signIn = request("POST", "/admin/login", body: "user=root&password=bench+password")
guard signIn.status == 303,
    let cookie = signIn.headers.first(where: { $0.0 == "Set-Cookie" && $0.1.hasPrefix("keyward_session=") })?.1.split(separator: ";").first
else { fatalError("sign-in failed: \(signIn.status)") }
let browser = ["HTTP_COOKIE": String(cookie)]
let created = try cli.createKey(user: "root", name: "api", expires: .never, scopes: [], networks: [])
let script = ["HTTP_AUTHORIZATION": "Bearer " + created.secret]

@MainActor func median(_ label: String, _ body: () -> Response) -> (seconds: Double, bytes: Int) {
    var bytes = 0
    for _ in 0..<10 { bytes = body().body.count }
    var times: [Double] = []
    for _ in 0..<rounds {
        let t = DispatchTime.now().uptimeNanoseconds
        let r = body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        precondition(r.status == 200, "\(label): \(r.status)")
    }
    times.sort()
    return (times[times.count / 2], bytes)
}

let page = median("PAGE") { request("GET", "/admin/?user=root", headers: browser) }
let json = median("API") { request("GET", "/admin/api/keys?user=root&limit=25", headers: script) }
let css = request(
    "GET", "/admin/assets/" + (request("GET", "/admin/?user=root", headers: browser).bodyText.firstMatch("keyward-[0-9a-f]+\\.css") ?? "")
).body.count
let js = request(
    "GET", "/admin/assets/" + (request("GET", "/admin/?user=root", headers: browser).bodyText.firstMatch("keyward-[0-9a-f]+\\.js") ?? "")
).body.count
print(String(format: "PAGE  key list (25 of %d keys), HTML   %8.3f ms  %6d bytes", count + 1, page.seconds * 1e3, page.bytes))
print(String(format: "API   key list (25 of %d keys), JSON   %8.3f ms  %6d bytes", count + 1, json.seconds * 1e3, json.bytes))
print(String(format: "RATIO PAGE/API %.2fx", page.seconds / json.seconds))
print("WEIGHT key list page: \(page.bytes) HTML + \(css) CSS + \(js) JS = \(page.bytes + css + js) bytes (uncompressed)")

extension Response {
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

extension String {
    func firstMatch(_ pattern: String) -> String? {
        guard let range = range(of: pattern, options: .regularExpression) else { return nil }
        return String(self[range])
    }
}
