import Foundation
import KeywardCore
import KeywardCrypto
import Testing

@testable import KeywardStore

/// A fresh database file in its own temporary directory.
struct TempDB {
    static let auditKeyBytes = [UInt8](repeating: 4, count: 32)

    let dir: String
    let path: String
    init(_ backend: StoreBackend = .sqlite) throws {
        dir = NSTemporaryDirectory() + "keyward-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        path = dir + "/k.db"
        try backend.initialize(path)
    }

    /// A fresh store of `backend`, through the seam only.
    static func store(_ backend: StoreBackend) throws -> any AdminStore {
        let t = try TempDB(backend)
        return try backend.open(t.path)
    }
}

extension StoreBackend {
    /// Runs a statement the seam does not offer, to tamper with stored rows as an attacker with
    /// write access to the database would.
    func tamper(_ store: any AdminStore, _ sql: String) throws {
        switch self {
        case .sqlite: try (store as! Store).db.statement(sql).run()
        }
    }
}

func newKey(
    _ store: any APIKeyRepository, user: String = "alice", name: String = "n1", pepper: HMACKey = HMACKey([1, 2, 3]),
    scopes: [String] = [], ips: [String] = []
) throws -> OpaqueSecret {
    let s = OpaqueSecret.generate(.apiKey)
    try store.insertKey(
        NewKey(
            id: s.id, user: user, name: name, secretHash: s.hash(with: pepper), createdAt: 100,
            expiresAt: 200, scopes: scopes.compactMap(PathScope.init), allowedNetworks: ips.compactMap(CIDR.init)))
    return s
}

@Suite struct MigrationTests {
    @Test func migratesOnceAndRecordsTheVersion() throws {
        let t = try TempDB()
        #expect(try Store.initialize(path: t.path) == 0)
        let db = try Connection(path: t.path)
        #expect(try Migrations.version(db) == Migrations.all.count)
        #expect(try db.statement("PRAGMA journal_mode").first { $0.text(0) } == "wal")
    }

    @Test func refusesANewerSchema() throws {
        let t = try TempDB()
        try Connection(path: t.path).execute("PRAGMA user_version = 999")
        #expect(throws: StoreError.self) { try Store(path: t.path) }
    }
}

@Suite struct RepositoryTests {
    @Test(arguments: StoreBackend.allCases) func usersAndRefusals(_ backend: StoreBackend) throws {
        let store = try TempDB.store(backend)
        try store.addUser("alice", now: 1)
        #expect(throws: StoreRefusal.userExists("alice")) { try store.addUser("alice", now: 2) }
        try store.setUserStatus("alice", .disabled)
        #expect(try store.user("alice").status == .disabled)
        #expect(throws: StoreRefusal.noSuchUser("bob")) { try store.setUserStatus("bob", .active) }
        #expect(throws: StoreRefusal.noSuchUser("bob")) { try store.deleteUser("bob") }
    }

    @Test(arguments: StoreBackend.allCases) func keysLifecycle(_ backend: StoreBackend) throws {
        let store = try TempDB.store(backend)
        try store.addUser("alice", now: 1)
        let s = try newKey(store, scopes: ["/api/", "GET:/ro/"], ips: ["10.0.0.0/8"])
        #expect(throws: StoreRefusal.keyNameTaken(user: "alice", name: "n1")) { _ = try newKey(store) }
        #expect(throws: StoreRefusal.noSuchUser("bob")) { _ = try newKey(store, user: "bob") }
        var row = try store.key(s.id)
        #expect(row.scopes == ["/api/", "GET:/ro/"] && row.allowIPs == ["10.0.0.0/8"] && row.expiresAt == 200)
        try store.setKeyExpiry(s.id, nil)
        try store.apiKeys.setStatus(s.id, .disabled)
        row = try store.key(s.id)
        #expect(row.expiresAt == nil && row.status == .disabled)
        try store.applyUsage([s.id: UsageDelta(count: 3, lastAt: 500, lastIP: "127.0.0.1")])
        try store.applyUsage([s.id: UsageDelta(count: 2, lastAt: 400, lastIP: "10.0.0.1")])
        row = try store.key(s.id)
        #expect(row.useCount == 5 && row.lastUsedAt == 500 && row.lastUsedIP == "127.0.0.1")
        try store.deleteUser("alice")
        #expect(throws: StoreRefusal.noSuchKey(s.id)) { try store.key(s.id) }
    }

    @Test(arguments: StoreBackend.allCases) func transactionsRollBackOnError(_ backend: StoreBackend) throws {
        let store = try TempDB.store(backend)
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try store.transaction {
                try store.addUser("alice", now: 1)
                throw Boom()
            }
        }
        #expect(try store.users().isEmpty)
        // The first error is the one rethrown, and the connection stays usable.
        #expect(throws: StoreRefusal.userExists("x")) {
            try store.transaction {
                try store.addUser("x", now: 1)
                try store.addUser("x", now: 1)
            }
        }
        #expect(try store.users().isEmpty)
        try store.addUser("y", now: 1)
        #expect(try store.users().map(\.name) == ["y"])
    }

    @Test(arguments: StoreBackend.allCases) func auditFilters(_ backend: StoreBackend) throws {
        let store = try TempDB.store(backend)
        store.auditKey = HMACKey(TempDB.auditKeyBytes)
        try store.appendAudit([
            AuditEvent(at: 10, actor: "cli:root", action: "user.add", target: "user:alice"),
            AuditEvent(at: 20, actor: "alice", action: "check.deny", credential: "kwk_x", reason: "path_not_allowed"),
            AuditEvent(at: 30, actor: "bob", action: "check.deny"),
        ])
        #expect(try store.audit().count == 3)
        #expect(try store.audit(since: 15).map(\.at) == [20, 30])
        #expect(try store.audit(user: "alice").map(\.at) == [10, 20])
        #expect(try store.audit(limit: 1).map(\.at) == [30])
        #expect(try store.audit(action: "user.add").map(\.at) == [10])
    }

    @Test(arguments: StoreBackend.allCases) func theAuditChainShowsTheFirstBrokenLink(_ backend: StoreBackend) throws {
        let store = try TempDB.store(backend)
        let key = HMACKey(TempDB.auditKeyBytes)
        store.auditKey = key
        try store.appendAudit((1...5).map { AuditEvent(at: Int64($0), actor: "a", action: "x", detail: "event \($0)") })
        try store.appendAudit([AuditEvent(at: 6, actor: "b", action: "y")])  // a later batch continues the chain
        #expect(try store.verifyAudit(key: key).0 == 6 && store.verifyAudit(key: key).1 == nil)
        try backend.tamper(store, "UPDATE audit SET detail = 'forged' WHERE id = 3")
        #expect(try store.verifyAudit(key: key).1 == 3)
        try backend.tamper(store, "UPDATE audit SET detail = 'event 3' WHERE id = 3")
        #expect(try store.verifyAudit(key: key).0 == 6 && store.verifyAudit(key: key).1 == nil)
        try backend.tamper(store, "DELETE FROM audit WHERE id = 4")
        #expect(try store.verifyAudit(key: key).1 == 5)  // removing a record breaks the link after it
        #expect(
            AuditChain.link(after: AuditChain.genesis, AuditEvent(at: 1, actor: "a", action: "b", target: nil), key: key)
                != AuditChain.link(after: AuditChain.genesis, AuditEvent(at: 1, actor: "a", action: "b", target: ""), key: key))
        // A chain recomputed without the key does not verify.
        #expect(try store.verifyAudit(key: HMACKey([UInt8](repeating: 9, count: 32))).1 == 1)
        #expect(throws: StoreError.self) { try TempDB.store(backend).appendAudit([AuditEvent(at: 1, actor: "a", action: "x")]) }
    }
}

extension KeyLookup {
    /// What a request sees: refresh, then look up.
    func current(_ id: String) throws -> CredentialRecord? {
        try refresh()
        return try credential(id: id)
    }
}

@Suite struct KeyLookupTests {
    @Test func seesAnotherConnectionsChangeOnTheNextLookup() throws {
        let t = try TempDB()
        let admin = try Store(path: t.path)
        try admin.addUser("alice", now: 1)
        let s = try newKey(admin)
        let lookup = try KeyLookup(path: t.path, clock: FixedClock(0))
        #expect(try lookup.current(s.id)?.status == .active)
        #expect(try lookup.current(s.id)?.status == .active)  // cached
        try admin.apiKeys.setStatus(s.id, .disabled)
        #expect(try lookup.credential(id: s.id)?.status == .active, "answers as of the last refresh")
        #expect(try lookup.current(s.id)?.status == .disabled)
        try admin.setUserStatus("alice", .disabled)
        #expect(try lookup.current(s.id)?.userStatus == .disabled)
        try admin.apiKeys.delete(s.id)
        #expect(try lookup.current(s.id) == nil)
        #expect(try KeyLookup(path: t.path, clock: FixedClock(0), cache: false).credential(id: s.id) == nil)
    }

    @Test func commitsStampTheGenerationButUsageDoesNot() throws {
        let t = try TempDB()
        let admin = try Store(path: t.path)
        let generation = try Generation(databasePath: t.path, writable: false)
        var seen = generation.current
        try admin.addUser("alice", now: 1)  // autocommit write
        #expect(generation.current != seen)
        seen = generation.current
        try admin.db.transaction {
            try admin.setUserStatus("alice", .disabled)
            try admin.setUserStatus("alice", .active)
        }
        #expect(generation.current != seen)  // one stamp per commit
        seen = generation.current
        _ = try admin.users()  // reads stamp nothing
        let s = try newKey(admin)
        seen = generation.current
        let writer = try Store(path: t.path, announcesChanges: false)
        try writer.applyUsage([s.id: UsageDelta(count: 1, lastAt: 5, lastIP: nil)])
        #expect(generation.current == seen)
    }

    @Test func aWriterThatDoesNotStampIsSeenWithinASecond() throws {
        final class Ticking: Clock, @unchecked Sendable { var now: Int64 = 100 }
        let t = try TempDB()
        let admin = try Store(path: t.path)
        try admin.addUser("alice", now: 1)
        let s = try newKey(admin)
        let clock = Ticking()
        let lookup = try KeyLookup(path: t.path, clock: clock)
        #expect(try lookup.current(s.id)?.status == .active)
        try Store(path: t.path, announcesChanges: false).apiKeys.setStatus(s.id, .disabled)  // like a hand-run sqlite3
        clock.now += 1
        #expect(try lookup.current(s.id)?.status == .disabled)
    }

    @Test func unparseableStoredScopesRefuseTheKey() throws {
        let t = try TempDB()
        let admin = try Store(path: t.path)
        try admin.addUser("alice", now: 1)
        let s = try newKey(admin, scopes: ["/api/"])
        try admin.db.statement("UPDATE api_keys SET scopes = ? WHERE id = ?").run([.text("/api/\nnot a scope"), .text(s.id)])
        #expect(throws: StoreError.self) { try KeyLookup(path: t.path, clock: FixedClock(0)).credential(id: s.id) }
    }

    @Test func loadsParsedScopesAndNetworks() throws {
        let t = try TempDB()
        let admin = try Store(path: t.path)
        try admin.addUser("alice", now: 1)
        let s = try newKey(admin, scopes: ["GET:/ro/"], ips: ["::1"])
        let r = try #require(try KeyLookup(path: t.path, clock: FixedClock(0)).credential(id: s.id))
        #expect(r.scopes == [PathScope("GET:/ro/")!] && r.allowedNetworks == [CIDR("::1")!] && r.userName == "alice")
        #expect(r.secretHash == s.hash(with: HMACKey([1, 2, 3])))
    }
}

@Suite struct BufferedWriterTests {
    @Test func stopWritesEverythingBuffered() throws {
        let t = try TempDB()
        let admin = try Store(path: t.path)
        try admin.addUser("alice", now: 1)
        let s = try newKey(admin)
        let writer = BufferedWriter(path: t.path, auditKey: TempDB.auditKeyBytes, interval: 60, log: { _ in })
        writer.start()
        let worker = writer.makeUsageRecorder()
        for i in 0..<5 { worker.recordUse(credential: s.id, at: 1000 + Int64(i), from: "127.0.0.\(i)") }
        let other = writer.makeUsageRecorder()
        for i in 5..<10 { other.recordUse(credential: s.id, at: 1000 + Int64(i), from: "127.0.0.\(i)") }
        writer.record(AuditEvent(at: 5, actor: "alice", action: "check.deny", reason: "path_not_allowed"))
        writer.stop()
        let row = try admin.key(s.id)
        #expect(row.useCount == 10 && row.lastUsedAt == 1009 && row.lastUsedIP == "127.0.0.9")
        #expect(try admin.audit().contains { $0.reason == "path_not_allowed" })
    }
}

@Suite struct KeyFileTests {
    @Test func createsPrivateAndRefusesToOverwriteOrLoadOpenFiles() throws {
        let t = try TempDB()
        let path = t.dir + "/k.key"
        let created = try KeyFile.create(path: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(throws: KeyFileError.self) { try KeyFile.create(path: path) }
        let loaded = try KeyFile.load(path: path)
        #expect(loaded.pepper == created.pepper && loaded.masterKey == created.masterKey && loaded.pepper.count == 32)
        #expect(!"\(loaded)".contains(Base64Probe.text(loaded.pepper)))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: KeyFileError.self) { try KeyFile.load(path: path) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: KeyFileError.self) { try KeyFile.load(path: path) }
    }
}

enum Base64Probe {
    static func text(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}
