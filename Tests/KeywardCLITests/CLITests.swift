import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the built `keyward` binary the way an administrator does.
struct CLI {
    let dir: String
    var db: String { dir + "/k.db" }

    static let binary: String = {
        // The test bundle sits beside the products of the same build: .build/<triple>/debug/.
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if dir.path.hasSuffix(".xctest/Contents/MacOS") {
            dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        }
        return dir.appendingPathComponent("keyward").path
    }()

    init() throws {
        dir = NSTemporaryDirectory() + "keyward-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    struct Result {
        let status: Int32
        let out: String
        let err: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(out.utf8)) }
    }

    @discardableResult
    func run(_ args: String...) throws -> Result { try run(arguments: args) }

    @discardableResult
    func run(_ first: String, _ rest: [String]) throws -> Result { try run(arguments: [first] + rest) }

    /// Runs `keyward --db <db> ARGS`; under `umask` when one is given (a shell sets it: the test
    /// process's own umask is shared with every test running beside this one).
    func run(arguments: [String], umask: String? = nil, input: String? = nil) throws -> Result {
        let p = Process()
        if let umask {
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "umask \(umask) && exec \"$0\" \"$@\"", Self.binary, "--db", db] + arguments
        } else {
            p.executableURL = URL(fileURLWithPath: Self.binary)
            p.arguments = ["--db", db] + arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "GATEWAY_INTERFACE")
        environment.removeValue(forKey: "KEYWARD_CONFIG")
        environment.removeValue(forKey: "KEYWARD_DB")
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let stdin = Pipe()
        p.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try p.run()
        if let input {
            stdin.fileHandleForWriting.write(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
        }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }
}

@Suite struct CLITests {
    @Test func binaryExists() {
        #expect(FileManager.default.isExecutableFile(atPath: CLI.binary), "\(CLI.binary)")
    }

    @Test func initIsIdempotentAndTheKeyFileIsPrivate() throws {
        let cli = try CLI()
        #expect(try cli.run("init").status == 0)
        #expect(try cli.run("init").status == 0)
        let attrs = try FileManager.default.attributesOfItem(atPath: cli.db + ".key")
        #expect(attrs[.posixPermissions] as? Int == 0o600)
        // Data without its key file is refused, not silently re-keyed.
        try cli.run("user", "add", "alice")
        try FileManager.default.removeItem(atPath: cli.db + ".key")
        let r = try cli.run("init")
        #expect(r.status == 1 && r.err.contains("key file"))
    }

    @Test func keyLifecycleWithExitCodes() throws {
        let cli = try CLI()
        try cli.run("init")
        #expect(try cli.run("user", "add", "alice").status == 0)
        let dup = try cli.run("user", "add", "alice")
        #expect(dup.status == 1 && dup.err.hasPrefix("keyward: user already exists") && dup.err.split(separator: "\n").count == 1)
        let created = try cli.run(
            "key", "create", "--user", "alice", "--name", "ci", "--scope", "/api/", "--scope", "GET:/ro/",
            "--allow-ip", "10.0.0.0/8", "--expires", "12h", "--json")
        #expect(created.status == 0)
        let obj = try #require(created.json as? [String: Any])
        let id = try #require(obj["id"] as? String), secret = try #require(obj["secret"] as? String)
        #expect(secret.hasPrefix(id + "_") && secret.count == 59)
        #expect(obj["scopes"] as? [String] == ["/api/", "GET:/ro/"])

        let plain = try cli.run("key", "create", "--user", "alice", "--name", "plain")
        #expect(plain.status == 0 && plain.out.contains("shown only now"))
        #expect(try cli.run("key", "create", "--user", "alice", "--name", "ci").status == 1)
        #expect(try cli.run("key", "create", "--user", "nobody", "--name", "x").status == 1)

        // Listings and audit never contain a secret.
        for args in [
            ["key", "list"], ["key", "list", "--json"], ["key", "show", id], ["key", "show", id, "--json"],
            ["user", "show", "alice", "--json"], ["audit", "list", "--json"], ["audit", "list"],
        ] {
            let r = try cli.run(args[0], Array(args.dropFirst()))
            #expect(r.status == 0, "\(args)")
            #expect(!r.out.contains(secret) && !r.out.contains(String(secret.dropFirst(21))), "\(args)")
        }
        let list = try #require(try cli.run("key", "list", "--json").json as? [[String: Any]])
        #expect(list.count == 2 && list.contains { $0["id"] as? String == id })

        for verb in ["disable", "enable", "renew"] { #expect(try cli.run("key", verb, id).status == 0, "\(verb)") }
        let shown = try #require(try cli.run("key", "show", id, "--json").json as? [String: Any])
        #expect(shown["status"] as? String == "active")
        let regen = try #require(try cli.run("key", "regenerate", id, "--json").json as? [String: Any])
        #expect(regen["id"] as? String == id && regen["secret"] as? String != secret)
        #expect(try cli.run("key", "delete", id).status == 0)
        #expect(try cli.run("key", "show", id).status == 1)

        let audit = try #require(try cli.run("audit", "list", "--json").json as? [[String: Any]])
        let actions = audit.compactMap { $0["action"] as? String }
        for a in ["user.add", "key.create", "key.disable", "key.enable", "key.renew", "key.regenerate", "key.delete"] {
            #expect(actions.contains(a), "\(a)")
        }
    }

    @Test func auditVerifyAndExport() throws {
        let cli = try CLI()
        try cli.run("init")
        try cli.run("user", "add", "alice")
        try cli.run("key", "create", "--user", "alice", "--name", "k")
        let ok = try cli.run("audit", "verify")
        #expect(ok.status == 0 && ok.out.contains("intact"))
        let export = try cli.run("audit", "export", "--action", "key.create")
        let lines = export.out.split(separator: "\n")
        #expect(export.status == 0 && lines.count == 1 && lines[0].contains("\"action\":\"key.create\""))
        // Tamper with a record behind Keyward's back.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
            "python3", "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(\"update audit set actor='someone' where id=2\"); c.commit()", cli.db,
        ]
        try p.run()
        p.waitUntilExit()
        let broken = try cli.run("audit", "verify")
        #expect(broken.status == 1 && broken.err.contains("record 2"))
    }

    @Test func passwordsAreHashedFromStdin() throws {
        let cli = try CLI()
        try cli.run("init")
        try cli.run("user", "add", "alice")
        #expect(try cli.run("user", "passwd", "alice").status == 2)  // never without --password-stdin
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["--db", cli.db, "user", "passwd", "alice", "--password-stdin"]
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        input.fileHandleForWriting.write(Data("correct horse battery\n".utf8))
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        dump.arguments = [
            "python3", "-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select password from users').fetchone()[0])", cli.db,
        ]
        let out = Pipe()
        dump.standardOutput = out
        try dump.run()
        let stored = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        dump.waitUntilExit()
        #expect(stored.hasPrefix("scrypt$") && !stored.contains("correct horse"))
        #expect(try !cli.run("audit", "list").out.contains("correct horse"))
        let short = try cli.run("user", "passwd", "alice", "--password-stdin")  // stdin is /dev/null: no line
        #expect(short.status == 1)
    }

    @Test func badUsageExitsTwo() throws {
        let cli = try CLI()
        try cli.run("init")
        try cli.run("user", "add", "alice")
        for args in [
            ["nope"], ["key"], ["key", "frobnicate"], ["key", "create", "--user", "alice"],
            ["key", "create", "--user", "alice", "--name", "x", "--expires", "soon"],
            ["key", "create", "--user", "alice", "--name", "x", "--scope", "relative/"],
            ["key", "create", "--user", "alice", "--name", "x", "--allow-ip", "10.0.0.0/99"],
            ["key", "show", "not-an-id"], ["user", "add"], ["user", "add", "a", "b"], ["key", "list", "--bogus"],
            ["serve", "--listen", ":9000"], ["serve", "--threads", "0"],
        ] {
            let r = try cli.run(args[0], Array(args.dropFirst()))
            #expect(r.status == 2, "\(args): \(r.err)")
            #expect(r.err.hasPrefix("keyward: "), "\(args)")
        }
        #expect(try cli.run("user", "add", "bad name").status == 1)
    }

    @Test func helpEverywhere() throws {
        let cli = try CLI()
        for args in [
            ["--help"], ["init", "--help"], ["serve", "--help"], ["user", "--help"], ["key", "--help"],
            ["key", "create", "--help"], ["key", "renew", "--help"], ["audit", "list", "--help"], ["user", "add", "--help"],
        ] {
            let r = try cli.run(args[0], Array(args.dropFirst()))
            #expect(r.status == 0 && r.out.contains("usage: keyward"), "\(args)")
        }
    }

    @Test func userDeleteTakesTheKeys() throws {
        let cli = try CLI()
        try cli.run("init")
        try cli.run("user", "add", "bob")
        try cli.run("key", "create", "--user", "bob", "--name", "k")
        #expect(try cli.run("user", "disable", "bob").status == 0)
        let users = try #require(try cli.run("user", "list", "--json").json as? [[String: Any]])
        #expect(users.first?["status"] as? String == "disabled")
        #expect(try cli.run("user", "delete", "bob").status == 0)
        #expect(try #require(try cli.run("key", "list", "--json").json as? [Any]).isEmpty)
        #expect(try cli.run("user", "show", "bob").status == 1)
    }

    @Test func runAsCGIItNeverReadsArguments() throws {
        // Apache passes a query string without `=` as argv (RFC 3875 §4.4): `?user+add+mallory`.
        let cli = try CLI()
        try cli.run("init")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["user", "add", "mallory"]
        p.environment = [
            "KEYWARD_DB": cli.db, "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET",
            "REQUEST_URI": "/cgi/keyward?user+add+mallory", "QUERY_STRING": "user+add+mallory",
            "PATH_INFO": "/healthz", "PATH": "/usr/bin:/bin",
        ]
        let out = Pipe()
        p.standardOutput = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let reply = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0 && reply.hasPrefix("Status: 200 OK"))
        #expect(try cli.run("user", "show", "mallory").status == 1)
    }

    @Test func aPastedSecretIsNeverEchoed() throws {
        let cli = try CLI()
        try cli.run("init")
        try cli.run("user", "add", "alice")
        let obj = try #require(try cli.run("key", "create", "--user", "alice", "--name", "k", "--json").json as? [String: Any])
        let secret = try #require(obj["secret"] as? String)
        let r = try cli.run("key", "disable", secret)
        #expect(r.status == 2 && !r.err.contains(secret) && r.err.contains(obj["id"] as! String))
    }

    @Test func environmentNamesTheDatabase() throws {
        let cli = try CLI()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["init"]
        p.environment = ["KEYWARD_DB": cli.dir + "/env.db", "PATH": "/usr/bin:/bin"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: cli.dir + "/env.db.key"))
    }
}

@Suite struct ServeTests {
    /// Starts `keyward serve` and waits until its socket exists.
    func start(_ cli: CLI, socket: String) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = ["--db", cli.db, "serve", "--listen", "unix:" + socket, "--threads", "2"]
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(50_000) }
        return p
    }

    @Test func refusesToTakeOverALiveSocketButReplacesAStaleOne() throws {
        let cli = try CLI()
        try cli.run("init")
        let socket = cli.dir + "/k.sock"
        let first = try start(cli, socket: socket)
        defer { if first.isRunning { first.terminate() } }
        #expect(first.isRunning && FileManager.default.fileExists(atPath: socket))
        let attrs = try FileManager.default.attributesOfItem(atPath: socket)
        #expect(attrs[.posixPermissions] as? Int == 0o660)

        let second = try cli.run("serve", "--listen", "unix:" + socket)
        #expect(second.status == 1 && second.err.contains("another server is listening"))

        // SIGTERM: the idle server exits promptly with status 0 and removes its socket.
        first.terminate()
        let deadline = Date().addingTimeInterval(2)
        while first.isRunning && Date() < deadline { usleep(20_000) }
        #expect(!first.isRunning && first.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socket))

        // A stale socket file (nobody listening) is replaced.
        let fd = unsafe socket.withCString { path -> Int32 in
            let s = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            unsafe withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                unsafe raw.copyBytes(from: UnsafeRawBufferPointer(start: path, count: strlen(path)))
            }
            _ = unsafe withUnsafePointer(to: &addr) {
                unsafe $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    unsafe bind(s, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            return s
        }
        close(fd)
        #expect(FileManager.default.fileExists(atPath: socket))
        let third = try start(cli, socket: socket)
        usleep(200_000)
        #expect(third.isRunning)
        third.terminate()
        third.waitUntilExit()
        #expect(third.terminationStatus == 0)
    }
}
