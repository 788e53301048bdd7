// keyward-bench: in-process cost of one check, cached and uncached, next to its floor (one
// HMAC-SHA256 of the key, which every check pays) measured in the same run.
//   usage: keyward-bench [iterations]
import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 200_000 : 200_000
let dir = NSTemporaryDirectory() + "keyward-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: dir) }
let dbPath = dir + "/bench.db"
try Store.initialize(path: dbPath)
let pepperBytes = SecureRandom.bytes(32)
let pepper = HMACKey(pepperBytes)
let store = try Store(path: dbPath)
try store.addUser("bench", now: 0)
let secret = OpaqueSecret.generate(.apiKey)
try store.insertKey(NewKey(id: secret.id, user: "bench", name: "bench", secretHash: secret.hash(with: pepper),
                           createdAt: 0, expiresAt: nil, scopes: [PathScope("/b/")!], allowedNetworks: []))

struct NullSink: UsageRecorder, AuditSink {
    func recordUse(credential: String, at: Int64, from address: String?) {}
    func record(_ event: AuditEvent) {}
}
let writer = BufferedWriter(path: dbPath, interval: 1, log: { print($0) })

func gateway(cache: Bool) throws -> Gateway {
    Gateway(config: GatewayConfig(), authenticator: Authenticator(
        keys: try KeyLookup(path: dbPath, clock: SystemClock(), cache: cache), pepper: HMACKey(pepperBytes), clock: SystemClock(), usage: writer.makeUsageRecorder(),
        audit: writer, throttle: FailureThrottle(limit: 100, windowSeconds: 60), limits: Limits()), log: { print($0) })
}

// The params nginx sends for a check (nginx/keyward.conf), as the FastCGI adapter would see them.
let params = DictionaryParams([
    "FCGI_ROLE": "RESPONDER", "KEYWARD_CHECK": "1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/b/keyward",
    "AUTH_PATH": "/b/keyward", "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost", "SERVER_PORT": "8080",
    "REQUEST_SCHEME": "http", "HTTP_HOST": "127.0.0.1:8080", "HTTP_USER_AGENT": "wrk",
    "HTTP_AUTHORIZATION": "Bearer \(secret.token)",
])

func measure(_ label: String, _ body: () -> Void) -> Double {
    for _ in 0..<(iterations / 10) { body() }
    var best = Double.infinity
    for _ in 0..<3 {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<iterations { body() }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / Double(iterations))
    }
    print(String(format: "  %-34@ %9.0f ns/op  %10.0f ops/s", label as NSString, best, 1e9 / best))
    return best
}

writer.start()
let cached = try gateway(cache: true)
let uncached = try gateway(cache: false)
precondition(cached.handle(params, role: .responder).status == 200, "the benchmark key must be allowed")
precondition(uncached.handle(params, role: .responder).status == 200, "the benchmark key must be allowed")

print("in-process check, \(iterations) iterations, best of 3:")
let floor = measure("floor: HMAC-SHA256 of the key") { _ = secret.hash(with: pepper) }
let hot = measure("check, cached key record") { _ = cached.respond(params, role: .responder) }
let cold = measure("check, uncached (SQLite lookup)") { _ = uncached.respond(params, role: .responder) }
writer.stop()
print(String(format: "RATIO cached/floor %.1fx  uncached/floor %.1fx  uncached/cached %.2fx", hot / floor, cold / floor, cold / hot))
