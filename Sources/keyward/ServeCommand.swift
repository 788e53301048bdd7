import Foundation
import KeywardAdmin
import KeywardAdminHTTP
import KeywardCore
import KeywardCrypto
import KeywardFastCGI
import KeywardGateway
import KeywardStore

#if canImport(Glibc)
    import Glibc
#endif

/// `keyward serve`: the FastCGI server (or, run by a web server as CGI, one request).
enum ServeCommand {
    static let spec = CommandSpec(
        usage: "serve [--listen unix:PATH|HOST:PORT] [--threads N] [--socket-mode 0660] [--socket-group G]",
        summary: """
            Serve FastCGI: the nginx check, the Apache/lighttpd authorizer and the endpoints.
            With no --listen, a listening socket on fd 0 (spawn-fcgi, systemd StandardInput=socket) or
            fd 3 (systemd LISTEN_FDS) is used; run as CGI (GATEWAY_INTERFACE set) it answers one request.
            Every option can also be set in the config file as `name = value`.
            """,
        options: [
            .init("listen", value: "ADDR", "unix:/run/keyward/keyward.sock or 127.0.0.1:9010"),
            .init("threads", value: "N", "worker threads (default 8)"),
            .init(
                "max-connections", value: "N",
                "FastCGI connections that may wait for a request at once; past it the oldest is closed (default 4096, fewer when the open-file limit is lower)"
            ),
            .init("socket-mode", value: "OCTAL", "mode of a unix socket (default 0660)"),
            .init("socket-group", value: "G", "group of a unix socket (e.g. www-data)"),
            .init("mount", value: "PREFIX", "path prefix the endpoints are mounted under (default none; run as CGI, SCRIPT_NAME)"),
            .init("failure-limit", value: "N", "failed checks per client address per window before 429 (default 100, 0 = off)"),
            .init("failure-window", value: "DURATION", "the failure window (default 60s)"),
            .init("issuer", value: "URL", "public URL of the endpoints, the tokens' iss (default http://localhost + mount)"),
            .init("audience", value: "AUD", "the tokens' aud (default keyward)"),
            .init("token-lifetime", value: "DURATION", "access token lifetime (default 15m)"),
            .init("token-leeway", value: "DURATION", "clock skew tolerated on exp/nbf/iat (default 30s)"),
            .init("service-jwt-lifetime", value: "DURATION", "longest lifetime a service's own JWT may claim (default 60m)"),
            .init("service-jwt-leeway", value: "DURATION", "clock skew tolerated on a service JWT's iat/nbf/exp (default 30s)"),
            .init(
                "trusted-proxy", value: "CIDR", repeatable: true,
                "a proxy whose header names the client (config: comma-separated)"),
            .init("real-ip-header", value: "NAME", "that header: X-Forwarded-For (default) or X-Real-IP"),
            .init("session-lifetime", value: "DURATION", "admin sign-in session lifetime, however busy (default 12h)"),
            .init("session-idle", value: "DURATION", "admin sign-in session ends after this long unused (default 30m)"),
            .init("signature-window", value: "DURATION", "how far a signed request's created may be from now, either way (default 300s)"),
            .init("signature-nonces", value: "N", "signed-request nonces remembered at once; past it, 429 (default 1000000, ~40 bytes each)"),
            .init("signature-require-nonce", "refuse RFC 9421 signatures without a nonce (config: signature-require-nonce = true)"),
            .init(
                "sendmail", value: "PATH",
                "sendmail for access-request mail from the admin API (config: sendmail, mail_from, public_url, mail_secret_inline)"),
        ])

    static let log: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data("\(Time.iso(SystemClock().now)) \(line)\n".utf8))
    }

    static func run(_ words: ArraySlice<String>, _ context: Context) throws -> Int32 {
        guard let args = try CLI.parse(words, spec) else { return 0 }
        _ = try args.positional()
        func option(_ name: String) -> String? {
            if name == "signature-require-nonce", args.flags.contains(name) { return "true" }
            return args.value(name) ?? context.config[name]
        }

        let threads =
            try option("threads").map { text in
                guard let n = Int(text), (1...1024).contains(n) else { throw UsageError("--threads must be 1 to 1024") }
                return n
            } ?? 8
        let requestedConnections = try option("max-connections").map { text in
            guard let n = Int(text), (1...1_000_000).contains(n) else { throw UsageError("--max-connections must be 1 to 1000000") }
            return n
        }
        let limits = try Limits.configured(option)
        var unixOptions = Listener.UnixOptions(group: option("socket-group"))
        if let text = option("socket-mode") {
            guard let mode = UInt32(text, radix: 8), mode <= 0o777 else { throw UsageError("invalid --socket-mode \(text)") }
            unixOptions.mode = mode_t(mode)
        }
        let listen = try option("listen").map { text in
            guard let address = ListenAddress(text) else { throw UsageError("invalid --listen \(text): want unix:PATH or HOST:PORT") }
            return address
        }

        try FastCGIServer.blockSignals()
        let keys = try context.loadKeys()
        _ = try context.openStore()
        try DatabaseFile.requirePrivate(context.dbPath)
        let writer = BufferedWriter(path: context.dbPath, auditKey: AuditChain.key(masterKey: keys.masterKey), limits: limits, log: log)
        let throttle = FailureThrottle(limits: limits)
        // One replay cache for every worker: a nonce seen by one thread is seen by all.
        let nonces = NonceCache(capacity: limits.signatureNonces)
        let sealer = KeySealer(masterKey: keys.masterKey)
        // A sign-in waiting for an scrypt slot holds a worker: at most a quarter of them wait.
        let signIns = SignInGuard(throttle: throttle, limits: limits, maxWaiting: max(1, threads / 4))
        let proxyTexts =
            args.all("trusted-proxy")
            + (context.config["trusted-proxy"].map {
                $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            } ?? [])
        let trustedProxies = try proxyTexts.map { text in
            guard let cidr = CIDR(text) else { throw UsageError("invalid --trusted-proxy \(text): want a CIDR range or address") }
            return cidr
        }
        let header =
            try option("real-ip-header").map { text in
                guard let header = ClientAddress.Header(rawValue: text.lowercased()) else {
                    throw UsageError("invalid --real-ip-header \(text): X-Forwarded-For or X-Real-IP")
                }
                return header
            } ?? .forwardedFor
        // How this process serves: its own socket, one systemd or spawn-fcgi passed, or (none of
        // those, and run by a web server as a CGI program) the one request in its environment.
        let env = ProcessInfo.processInfo.environment
        let systemdSocket =
            listen == nil && env["LISTEN_FDS"] == "1" && env["LISTEN_PID"] == String(ProcessInfo.processInfo.processIdentifier)
            && Listener.isListeningSocket(3)
        let runsAsCGI = listen == nil && !systemdSocket && !Listener.isListeningSocket(0) && CGIRunner.isCGI
        let gatewayConfig = GatewayConfig(
            mount: option("mount") ?? (runsAsCGI ? CGIRunner.mount : nil) ?? "", limits: limits,
            client: ClientAddressRule(trustedProxies: trustedProxies, header: header))
        let policy = try tokenPolicy(option, mount: gatewayConfig.mount)
        let mail: MailSettings
        do {
            // --sendmail is a path, relative to the working directory like any other.
            let sendmail = args.value("sendmail").map { $0.hasPrefix("/") ? $0 : FileManager.default.currentDirectoryPath + "/" + $0 }
            mail = try MailSettings(config: context.config.values, sendmail: sendmail)
        } catch let error as AdminError {
            throw UsageError("mail settings: \(error.message)")
        }
        let adminConfig = AdminAPIConfig(
            databasePath: context.dbPath, keyFile: keys, mount: gatewayConfig.mount,
            secureCookies: policy.issuer.hasPrefix("https://") || mail.publicURL?.hasPrefix("https://") == true,
            limits: limits, client: gatewayConfig.client, mail: mail)
        func makeGateway() throws -> Gateway {
            let clock = SystemClock()
            let ring = try StoreKeyRing(path: context.dbPath, masterKey: keys.masterKey, clock: clock)
            let authenticator = Authenticator(
                keys: try KeyLookup(path: context.dbPath, clock: clock, limits: limits, sealer: sealer), pepper: HMACKey(keys.pepper),
                clock: clock, usage: writer.makeUsageRecorder(), audit: writer, throttle: throttle, limits: limits,
                tokens: TokenVerifier(keys: ring, policy: policy, limits: limits), nonces: nonces)
            return Gateway(
                config: gatewayConfig, authenticator: authenticator,
                tokenService: TokenService(
                    issuer: TokenIssuer(keys: ring, policy: policy),
                    revoker: StoreRevoker(path: context.dbPath)),
                admin: AdminAPI(
                    config: adminConfig, clock: clock, throttle: throttle, audit: writer,
                    usage: writer.makeUsageRecorder(), signIns: signIns, nonces: nonces, log: log),
                log: log)
        }

        let fd: Int32
        var ownedSocket: String? = nil
        if let listen {
            fd = try Listener.open(listen, unix: unixOptions)
            if case .unix(let path) = listen { ownedSocket = path }
            log("keyward[KW0001]: listening on \(listen) with \(threads) threads")
        } else if systemdSocket {
            fd = 3
            log("keyward[KW0002]: serving the socket systemd passed (fd 3) with \(threads) threads")
        } else if Listener.isListeningSocket(0) {
            fd = 0
            log("keyward[KW0003]: serving the socket on fd 0 with \(threads) threads")
        } else if runsAsCGI {
            CGIRunner.run(gateway: try makeGateway())
            writer.flush()
            return 0
        } else {
            throw UsageError("no --listen given and fd 0 is not a listening socket")
        }

        let gateways = try (0..<threads).map { _ in try makeGateway() }
        // Each waiting connection holds a descriptor; keep some for the database, logs and workers.
        let files = FastCGIServer.raiseFileLimit()
        let maxConnections = min(requestedConnections ?? 4_096, max(16, files - 64 - 4 * threads))
        if let requestedConnections, requestedConnections > maxConnections {
            log("keyward[KW0005]: --max-connections \(requestedConnections) lowered to \(maxConnections) (open-file limit \(files))")
        }
        writer.start()
        FastCGIServer(listenFD: fd, gateways: gateways, maxConnections: maxConnections, limits: limits, log: log).run()
        writer.stop()
        if let ownedSocket { try? FileManager.default.removeItem(atPath: ownedSocket) }
        log("keyward[KW0004]: stopped")
        return 0
    }

    /// The token settings from options or the config file.
    static func tokenPolicy(_ option: (String) -> String?, mount: String) throws -> TokenPolicy {
        var lifetime: Int64 = 900
        if let text = option("token-lifetime") {
            guard case .seconds(let s)? = Lifetime(text) else { throw UsageError("invalid --token-lifetime \(text)") }
            lifetime = s
        }
        var leeway: Int64 = 30
        if let text = option("token-leeway") {
            guard case .seconds(let s)? = Lifetime(text), s <= 300 else { throw UsageError("invalid --token-leeway \(text) (at most 5m)") }
            leeway = s
        }
        let issuer = option("issuer") ?? "http://localhost" + mount
        guard issuer.hasPrefix("https://") || issuer.hasPrefix("http://") else {
            throw UsageError("--issuer must be an http(s) URL (RFC 8414 §2)")
        }
        return TokenPolicy(issuer: issuer, audience: option("audience") ?? "keyward", lifetime: lifetime, leeway: leeway)
    }
}
