import Foundation
import KeywardCore
import KeywardCrypto
import Testing

@testable import KeywardStore

/// Admin sessions: the idle rule beside the lifetime, their use recorded, listed and ended by
/// public id, and the migration that added `last_seen_at`.
@Suite struct SessionStoreTests {
    static let idle: Int64 = 1_800
    let id = Digest.sha256("cookie one")
    let other = Digest.sha256("cookie two")

    @Test(arguments: StoreBackend.allCases) func anIdleSessionIsRefusedAndAUseKeepsItAlive(_ backend: StoreBackend) throws {
        let store = try TempDB.store(backend)
        try store.addUser("alice", now: 1)
        try store.insertSession(idHash: id, user: "alice", csrfHash: [1], now: 1_000, expiresAt: 1_000 + 12 * 3_600)
        let row = try #require(try store.session(idHash: id, now: 1_000, idle: Self.idle))
        #expect(row.user == "alice" && row.lastSeenAt == 1_000 && row.createdAt == 1_000 && row.csrfHash == [1])
        #expect(try store.session(idHash: id, now: 1_000 + Self.idle - 1, idle: Self.idle) != nil)
        #expect(try store.session(idHash: id, now: 1_000 + Self.idle, idle: Self.idle) == nil, "idle for the whole limit")

        // Used shortly before: alive for another idle period from that use.
        try store.touchSession(idHash: id, now: 1_000 + Self.idle - 1)
        #expect(try store.session(idHash: id, now: 1_000 + 2 * Self.idle - 2, idle: Self.idle)?.lastSeenAt == 1_000 + Self.idle - 1)
        #expect(try store.session(idHash: id, now: 1_000 + 2 * Self.idle - 1, idle: Self.idle) == nil)

        // However busy, the lifetime ends it.
        let end: Int64 = 1_000 + 12 * 3_600
        try store.touchSession(idHash: id, now: end - 1)
        #expect(try store.session(idHash: id, now: end - 1, idle: Self.idle) != nil)
        #expect(try store.session(idHash: id, now: end, idle: Self.idle) == nil)
    }

    @Test(arguments: StoreBackend.allCases) func sessionsAreListedByPublicIdAndEndedByIt(_ backend: StoreBackend) throws {
        let store = try TempDB.store(backend)
        try store.addUser("alice", now: 1)
        try store.addUser("bob", now: 1)
        try store.insertSession(idHash: id, user: "alice", csrfHash: [1], now: 1_000, expiresAt: 50_000)
        try store.insertSession(idHash: other, user: "alice", csrfHash: [2], now: 1_100, expiresAt: 50_000)
        try store.insertSession(idHash: Digest.sha256("bob's"), user: "bob", csrfHash: [3], now: 1_200, expiresAt: 50_000)

        let alices = try store.sessions(user: "alice", now: 1_200, idle: Self.idle)
        #expect(alices.map(\.id) == [SessionInfo.publicId(other), SessionInfo.publicId(id)], "newest first")
        #expect(alices.first == SessionInfo(id: SessionInfo.publicId(other), user: "alice", createdAt: 1_100, lastSeenAt: 1_100, expiresAt: 50_000))
        #expect(alices.allSatisfy { $0.id.hasPrefix("ses_") && $0.id.count == 16 })
        #expect(try store.sessions(user: nil, now: 1_200, idle: Self.idle).count == 3)
        #expect(throws: StoreRefusal.noSuchUser("carol")) { try store.sessions(user: "carol", now: 1_200, idle: Self.idle) }
        // Idle ones are not listed.
        #expect(try store.sessions(user: "alice", now: 1_000 + Self.idle, idle: Self.idle).map(\.id) == [SessionInfo.publicId(other)])

        #expect(try store.deleteSession(publicId: SessionInfo.publicId(id))?.user == "alice")
        #expect(try store.session(idHash: id, now: 1_200, idle: Self.idle) == nil)
        #expect(try store.session(idHash: other, now: 1_200, idle: Self.idle) != nil)
        #expect(try store.deleteSession(publicId: SessionInfo.publicId(id)) == nil)
        #expect(try store.deleteSession(publicId: "ses_nothinghere") == nil)
    }

    @Test(arguments: StoreBackend.allCases) func expiredSessionsAreFoundAndRemoved(_ backend: StoreBackend) throws {
        let store = try TempDB.store(backend)
        try store.addUser("alice", now: 1)
        try store.insertSession(idHash: id, user: "alice", csrfHash: [1], now: 1_000, expiresAt: 2_000)  // short lifetime
        try store.insertSession(idHash: other, user: "alice", csrfHash: [2], now: 1_500, expiresAt: 90_000)
        #expect(try store.expiredSessions(now: 1_999, idle: Self.idle, idHash: nil).isEmpty)
        #expect(try store.expiredSessions(now: 2_000, idle: Self.idle, idHash: nil).map(\.id) == [SessionInfo.publicId(id)])
        #expect(try store.expiredSessions(now: 2_000, idle: Self.idle, idHash: other).isEmpty)
        #expect(try store.deleteExpiredSessions(now: 1_500 + Self.idle, idle: Self.idle, idHash: other).map(\.id) == [SessionInfo.publicId(other)])
        #expect(try store.session(idHash: id, now: 1_999, idle: Self.idle) != nil, "only the one named")
        #expect(try store.deleteExpiredSessions(now: 2_000, idle: Self.idle, idHash: nil).map(\.user) == ["alice"])
        #expect(try store.sessions(user: nil, now: 0, idle: Self.idle).isEmpty)
    }

    @Test func aUseIsNotAnnouncedAsAChange() throws {
        let t = try TempDB()
        let store = try Store(path: t.path)
        try store.addUser("alice", now: 1)
        try store.insertSession(idHash: id, user: "alice", csrfHash: [1], now: 1_000, expiresAt: 50_000)
        let generation = try Generation(databasePath: t.path, writable: false)
        let seen = generation.current
        try store.touchSession(idHash: id, now: 1_100)
        #expect(generation.current == seen)
        #expect(try store.session(idHash: id, now: 1_100, idle: Self.idle)?.lastSeenAt == 1_100)
        try store.setUserStatus("alice", .active)
        #expect(generation.current != seen, "other writes still announce")
    }

    @Test func theMigrationGivesStoredSessionsTheirSignInAsLastUse() throws {
        let t = try TempDB()
        let path = t.dir + "/v4.db"
        let db = try Connection(path: path, create: true)
        for (index, sql) in Migrations.all.prefix(4).enumerated() {
            try db.execute(sql)
            try db.execute(SQLDialect.sqlite.writeSchemaVersion(index + 1))
        }
        try db.execute("INSERT INTO users (name, created_at) VALUES ('alice', 1)")
        try db.statement("INSERT INTO sessions (id_hash, user_id, csrf_hash, created_at, expires_at) VALUES (?, 1, ?, 1000, 50000)")
            .run([.blob(id), .blob([9])])

        let store = try Store(path: path)
        #expect(try Migrations.version(db) == Migrations.all.count)
        #expect(try store.session(idHash: id, now: 1_000 + Self.idle - 1, idle: Self.idle)?.lastSeenAt == 1_000)
        #expect(try store.session(idHash: id, now: 1_000 + Self.idle, idle: Self.idle) == nil)
    }
}
