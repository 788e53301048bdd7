// keyward-bench: in-process cost of one check, cached and uncached, next to its floor (one
// HMAC-SHA256 of the key, which every check pays) measured in the same run. Then, per JWS
// algorithm (EdDSA, ES256, RS256): what a first-seen access token costs (JWS.parse + JWS.verify,
// and the signature verification alone), and the check with a repeated token, which the
// TokenVerifier's cache answers without a signature verification. And a service's key and a
// repeated service JWT next to the API-key check of the same gateway (issue 12).
//   usage: keyward-bench [iterations]
// Machine-readable lines for bench/run.sh (ops per second of thread CPU time, the basis
// `openssl speed` reports by default):
//   JWTVERIFY <alg> <ops/s>     JWS.parse + JWS.verify of one token
//   SIGVERIFY <alg> <ops/s>     PublicVerificationKey.verify of its signing input only
import Foundation
import KeywardCore
import KeywardCrypto
import KeywardGateway
import KeywardStore

#if canImport(Glibc)
    import Glibc
#endif

let iterations = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 200_000 : 200_000
let dir = NSTemporaryDirectory() + "keyward-bench-\(ProcessInfo.processInfo.processIdentifier)"
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: dir) }
let dbPath = dir + "/bench.db"
try Store.initialize(path: dbPath)
let pepperBytes = SecureRandom.bytes(32)
let pepper = HMACKey(pepperBytes)
let store = try Store(path: dbPath)
try store.addUser("bench", now: 0)
let secret = OpaqueSecret.generate(.apiKey)
try store.insertKey(
    NewKey(
        id: secret.id, user: "bench", name: "bench", secretHash: secret.hash(with: pepper),
        createdAt: 0, expiresAt: nil, scopes: [PathScope("/b/")!], allowedNetworks: []))

struct NullSink: UsageRecorder, AuditSink {
    func recordUse(credential: String, at: Int64, from address: String?) {}
    func record(_ event: AuditEvent) {}
}
let writer = BufferedWriter(path: dbPath, auditKey: SecureRandom.bytes(32), interval: 1, log: { print($0) })

func gateway(cache: Bool) throws -> Gateway {
    Gateway(
        config: GatewayConfig(),
        authenticator: Authenticator(
            keys: try KeyLookup(path: dbPath, clock: SystemClock(), cache: cache), pepper: HMACKey(pepperBytes), clock: SystemClock(),
            usage: writer.makeUsageRecorder(),
            audit: writer, throttle: FailureThrottle(limit: 100, windowSeconds: 60), limits: Limits()), log: { print($0) })
}

// The params nginx sends for a check (nginx/keyward.conf), as the FastCGI adapter would see them.
let params = DictionaryParams([
    "FCGI_ROLE": "RESPONDER", "KEYWARD_CHECK": "1", "REQUEST_METHOD": "GET", "REQUEST_URI": "/b/keyward",
    "AUTH_PATH": "/b/keyward", "REMOTE_ADDR": "127.0.0.1", "SERVER_NAME": "localhost", "SERVER_PORT": "8080",
    "REQUEST_SCHEME": "http", "HTTP_HOST": "127.0.0.1:8080", "HTTP_USER_AGENT": "wrk",
    "HTTP_AUTHORIZATION": "Bearer \(secret.token)",
])

func measure(_ label: String, iterations: Int = iterations, _ body: () -> Void) -> Double {
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
print(String(format: "RATIO cached/floor %.1fx  uncached/floor %.1fx  uncached/cached %.2fx", hot / floor, cold / floor, cold / hot))

// ---------------------------------------------------------------- the access model (issue 3)
// 20 groups, 40 decoy resources, 10 roles; the key's user reaches resource "bench" (/b/access)
// through a group's role. The same cached gateway, on a path under no resource and under "bench".
for i in 1...20 { try store.addGroup("team\(i)", now: 0) }
for i in 1...40 {
    try store.addResource("decoy\(i)", ResourceSpec(path: PathScope("/decoy/\(i)/"), audience: [.group("team\(i % 20 + 1)")]), now: 0)
}
try store.addResource("bench", ResourceSpec(path: PathScope("/b/access")), now: 0)
for i in 1...9 {
    try store.addRole("role\(i)", privileges: [Privilege.access("decoy\(i)")], now: 0)
    try store.grantRole("role\(i)", to: .group("team\(i)"))
}
try store.addRole("bench-reader", privileges: [Privilege.access("bench")], now: 0)
try store.grantRole("bench-reader", to: .group("team20"))
for i in [3, 7, 20] { try store.addMember(group: "team\(i)", user: "bench") }
var accessParams = params
accessParams.values["REQUEST_URI"] = "/b/access"
accessParams.values["AUTH_PATH"] = "/b/access"
precondition(cached.handle(accessParams, role: .responder).status == 200, "the benchmark key must reach resource bench")
let outside = measure("check, 41 resources, path in none") { _ = cached.respond(params, role: .responder) }
let inside = measure("check, path under a resource") { _ = cached.respond(accessParams, role: .responder) }
print(String(format: "RATIO resource/no-model %.2fx  no-resource/no-model %.2fx", inside / hot, outside / hot))

// ---------------------------------------------------------------- services (issue 12)
// A service of the same user (scope /b/) with a service key and a JWT secret, read through a
// lookup that opens JWT secrets as the server's does; the same access model as above.
let serviceSealer = KeySealer(masterKey: SecureRandom.bytes(32))
let serviceKey = OpaqueSecret.generate(.serviceKey)
let jwtSecretId = ServiceCredentialType.jwtSecret.newId()
let jwtSecret = SecureRandom.bytes(32)
try store.insertService(NewService(name: "benchsvc", owner: "bench", scopes: [PathScope("/b/")!], allowedNetworks: [], createdAt: 0))
try store.insertServiceCredential(
    id: serviceKey.id, service: "benchsvc", type: .serviceKey, secret: Array(serviceKey.token.utf8),
    secretHash: serviceKey.hash(with: pepper), sealer: serviceSealer, now: 0)
try store.insertServiceCredential(
    id: jwtSecretId, service: "benchsvc", type: .jwtSecret, secret: jwtSecret, secretHash: nil, sealer: serviceSealer, now: 0)
let serviceGateway = Gateway(
    config: GatewayConfig(),
    authenticator: Authenticator(
        keys: try KeyLookup(path: dbPath, clock: SystemClock(), sealer: serviceSealer), pepper: HMACKey(pepperBytes), clock: SystemClock(),
        usage: writer.makeUsageRecorder(), audit: writer, throttle: FailureThrottle(limit: 100, windowSeconds: 60), limits: Limits()),
    log: { print($0) })
let serviceNow = SystemClock().now
let jwtInput =
    Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "."
    + Base64URL.encode(Array(#"{"iss":"benchsvc","iat":\#(serviceNow),"exp":\#(serviceNow + 3_000)}"#.utf8))
let serviceJWT = jwtInput + "." + Base64URL.encode(HMACKey(jwtSecret).authenticationCode(Array(jwtInput.utf8)))
var svcKeyParams = params, svcJWTParams = params
svcKeyParams.values["HTTP_AUTHORIZATION"] = "Bearer \(serviceKey.token)"
svcJWTParams.values["HTTP_AUTHORIZATION"] = "Bearer \(serviceJWT)"
precondition(serviceGateway.handle(params, role: .responder).status == 200, "the benchmark key must be allowed")
precondition(serviceGateway.handle(svcKeyParams, role: .responder).status == 200, "the service key must be allowed")
precondition(serviceGateway.handle(svcJWTParams, role: .responder).status == 200, "the service JWT must be allowed")
let apiKeyCheck = measure("check, API key (this gateway)") { _ = serviceGateway.respond(params, role: .responder) }
let serviceKeyCheck = measure("check, service key") { _ = serviceGateway.respond(svcKeyParams, role: .responder) }
let serviceJWTCheck = measure("check, repeated service JWT") { _ = serviceGateway.respond(svcJWTParams, role: .responder) }
print(
    String(
        format: "RATIO service-key/api-key %.2fx  service-jwt/api-key %.2fx (time per check)", serviceKeyCheck / apiKeyCheck,
        serviceJWTCheck / apiKeyCheck))
// ---------------------------------------------------------------- signed requests (issue 12)
// An RFC 9421 hmac-sha256 signature over @method and @target-uri, as bench/signed-request.lua
// sends it, through the same cached gateway (whose lookup opens the sealed secret once); without
// a nonce, so the one request can be repeated, and the replay cache's insert measured apart.
let sealMaster = SecureRandom.bytes(32)
let signKey = SecureRandom.bytes(32)
let signId = "kwh_" + Base62.random(count: 16)
try store.insertRequestKey(
    NewRequestKey(
        id: signId, user: "bench", name: "signer", algorithm: .hmacSHA256,
        material: try KeySealer(masterKey: sealMaster).seal(signKey, boundTo: KeySealer.requestKeyBinding(id: signId, serial: 1)),
        createdAt: 0, expiresAt: nil, scopes: [PathScope("/b/")!], allowedNetworks: []))
let signedGateway = Gateway(
    config: GatewayConfig(),
    authenticator: Authenticator(
        keys: try KeyLookup(path: dbPath, clock: SystemClock(), sealer: KeySealer(masterKey: sealMaster)), pepper: HMACKey(pepperBytes),
        clock: SystemClock(), usage: writer.makeUsageRecorder(), audit: writer, throttle: FailureThrottle(limit: 100, windowSeconds: 60),
        limits: Limits()), log: { print($0) })
var signedParams = params
signedParams.values["HTTP_AUTHORIZATION"] = nil
let signatureParams = "(\"@method\" \"@target-uri\");created=\(SystemClock().now);keyid=\"\(signId)\";alg=\"hmac-sha256\""
let signatureBase = "\"@method\": GET\n\"@target-uri\": http://127.0.0.1:8080/b/keyward\n\"@signature-params\": \(signatureParams)"
signedParams.values["HTTP_SIGNATURE_INPUT"] = "sig1=" + signatureParams
signedParams.values["HTTP_SIGNATURE"] = "sig1=:" + Base64.encode(HMACKey(signKey).authenticationCode(signatureBase)) + ":"
precondition(signedGateway.handle(signedParams, role: .responder).status == 200, "the benchmark signature must verify")
let signed = measure("check, RFC 9421 hmac-sha256") { _ = signedGateway.respond(signedParams, role: .responder) }
let nonceCache = NonceCache(capacity: 4_000_000)
var nonceCounter = 0
let admit = measure("replay cache insert (fresh nonce)", iterations: min(iterations, 1_000_000)) {
    nonceCounter += 1
    _ = nonceCache.admit(credential: signId, nonce: "n\(nonceCounter)", until: Int64.max, now: 0)
}
print(String(format: "RATIO signed-check/cached-key-check %.2fx  (with a nonce: %.2fx)", signed / hot, (signed + admit) / hot))

// ---------------------------------------------------------------- access tokens (JWS)
// One signing key per algorithm in the store, all published, read through the server's own
// StoreKeyRing; one OAuth2 client (scope /b/, like the API key) that the tokens name as client_id.
let masterKey = SecureRandom.bytes(32)
let client = OpaqueSecret.generate(.clientSecret)
try store.insertClient(
    id: client.id, user: "bench", name: "bench", secretHash: client.hash(with: pepper), now: 0,
    expiresAt: nil, scopes: [PathScope("/b/")!])
let algorithms: [SigningAlgorithm] = [.edDSA, .es256, .rs256]
var signingKeys: [SigningAlgorithm: PrivateSigningKey] = [:]
for alg in algorithms {
    let key = try PrivateSigningKey.generate(alg)
    try store.addSigningKey(key, sealer: KeySealer(masterKey: masterKey), now: SystemClock().now, retireOthersAfter: 86_400)
    signingKeys[alg] = key
}
let policy = TokenPolicy(issuer: "http://127.0.0.1/keyward", audience: "keyward", lifetime: 3_600)
let limits = Limits()

/// Slow operations: sized to `seconds` per run from a 0.25 s warm-up, best of 3 runs by CPU time.
/// Returns CPU ns per operation.
func measureTimed(_ label: String, seconds: Double = 0.7, _ body: () -> Void) -> Double {
    var n = 0
    let warmStart = DispatchTime.now().uptimeNanoseconds
    while DispatchTime.now().uptimeNanoseconds - warmStart < 250_000_000 {
        body()
        n += 1
    }
    let count = max(1, Int(Double(n) * seconds / 0.25))
    var bestCPU = Double.infinity, bestWall = Double.infinity
    for _ in 0..<3 {
        let wall0 = DispatchTime.now().uptimeNanoseconds, cpu0 = threadCPUNanos()
        for _ in 0..<count { body() }
        let cpu = Double(threadCPUNanos() - cpu0) / Double(count)
        let wall = Double(DispatchTime.now().uptimeNanoseconds - wall0) / Double(count)
        bestCPU = min(bestCPU, cpu)
        bestWall = min(bestWall, wall)
    }
    print(
        String(
            format: "  %-34@ %9.0f ns/op  %10.0f ops/s  (cpu; wall %.0f ops/s, %d ops/run)",
            label as NSString, bestCPU, 1e9 / bestCPU, 1e9 / bestWall, count))
    return bestCPU
}

func jwtGateway() throws -> Gateway {
    let clock = SystemClock()
    return Gateway(
        config: GatewayConfig(mount: "/keyward"),
        authenticator: Authenticator(
            keys: try KeyLookup(path: dbPath, clock: clock), pepper: HMACKey(pepperBytes), clock: clock,
            usage: writer.makeUsageRecorder(), audit: writer, throttle: FailureThrottle(limit: 100, windowSeconds: 60),
            limits: limits,
            tokens: TokenVerifier(
                keys: try StoreKeyRing(path: dbPath, masterKey: masterKey, clock: clock),
                policy: policy, limits: limits)), log: { print($0) })
}

print("")
print("access tokens (JWS compact, RFC 9068 claims), per algorithm:")
var machine: [String] = []
var cachedRatios: [String] = []
for alg in algorithms {
    let key = signingKeys[alg]!
    let now = SystemClock().now
    let claims = AccessTokenClaims(
        issuer: policy.issuer, subject: "bench", audience: policy.audience, clientId: client.id,
        scope: ["/b/"], issuedAt: now, expiresAt: now + 3_600, id: Base62.random(count: 22))
    let token = JWS.sign(claims, with: key)
    let lastDot = token.utf8.lastIndex(of: UInt8(ascii: "."))!
    let signingInput = Array(token.utf8[..<lastDot])
    let signature = Base64URL.decode(token[token.index(after: lastDot)...])!
    let publicKey = key.publicKey
    precondition(publicKey.verify(signature: signature, message: signingInput), "\(alg.rawValue): own signature refused")
    precondition((try? JWS.verify(JWS.parse(token, limits: limits), with: publicKey)) != nil, "\(alg.rawValue): own token refused")
    var tampered = signature
    tampered[tampered.count / 2] ^= 1
    precondition(!publicKey.verify(signature: tampered, message: signingInput), "\(alg.rawValue): tampered signature accepted")

    let gateway = try jwtGateway()
    var jwtParams = params
    jwtParams.values["HTTP_AUTHORIZATION"] = "Bearer \(token)"
    let first = gateway.handle(jwtParams, role: .responder)
    precondition(first.status == 200, "\(alg.rawValue): the benchmark token must be allowed (got \(first.status))")

    print("  \(alg.rawValue) (token \(token.utf8.count) bytes):")
    let full = measureTimed("  jwt verify (parse+verify)") {
        do { try JWS.verify(JWS.parse(token, limits: limits), with: publicKey) } catch { fatalError("verify failed: \(error)") }
    }
    let sigOnly = measureTimed("  signature verify only") {
        precondition(publicKey.verify(signature: signature, message: signingInput))
    }
    let parseOnly = measureTimed("  jwt parse only (JWS.parse)", seconds: 0.3) {
        do { _ = try JWS.parse(token, limits: limits) } catch { fatalError("parse failed: \(error)") }
    }
    // The cache path alone: SHA-256 of the token and a dictionary hit (no store, no policy).
    let verifier = TokenVerifier(
        keys: try StoreKeyRing(path: dbPath, masterKey: masterKey, clock: SystemClock()),
        policy: policy, limits: limits)
    guard case .success = try verifier.verify(token, now: now) else { fatalError("\(alg.rawValue): TokenVerifier refused the token") }
    _ = measure("  token cache hit (TokenVerifier)", iterations: max(1, iterations / 4)) {
        guard case .success = try! verifier.verify(token, now: now) else { fatalError("cache hit refused") }
    }
    let hotJWT = measure("  check, cached JWT (repeated)", iterations: max(1, iterations / 4)) {
        _ = gateway.respond(jwtParams, role: .responder)
    }
    machine.append(String(format: "JWTVERIFY %@ %.0f", alg.rawValue as NSString, 1e9 / full))
    machine.append(String(format: "SIGVERIFY %@ %.0f", alg.rawValue as NSString, 1e9 / sigOnly))
    cachedRatios.append(String(format: "%@ %.2fx", alg.rawValue as NSString, hotJWT / hot))
    print(
        String(
            format:
                "    parse+verify / signature only %.2fx (parse %.0f%% of parse+verify); a repeated token's check costs %.1f%% of a first verification",
            full / sigOnly, 100 * parseOnly / full, 100 * hotJWT / full))
}
writer.stop()
print("RATIO cached-jwt-check/cached-key-check " + cachedRatios.joined(separator: "  "))
for line in machine { print(line) }
