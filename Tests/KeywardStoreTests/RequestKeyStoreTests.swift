import Foundation
import KeywardCore
import KeywardCrypto
import Testing

@testable import KeywardStore

/// Signed-request credentials (`kwh_`) in the store: rows, sealed secrets, the check's lookup.
@Suite struct RequestKeyStoreTests {
    let sealer = KeySealer(masterKey: Array(repeating: 3, count: 32))
    let id = "kwh_" + String(repeating: "S", count: 16)
    let secret = Array("stored secret of thirty-two bytes".utf8)

    func store() throws -> (Store, TempDB) {
        let t = try TempDB()
        let store = try Store(path: t.path, announcesChanges: false)
        store.auditKey = HMACKey(TempDB.auditKeyBytes)
        try store.addUser("alice", now: 1)
        return (store, t)
    }

    func insert(_ store: Store, id: String? = nil, algorithm: RequestSigningAlgorithm = .hmacSHA256, material: [UInt8]? = nil) throws {
        let id = id ?? self.id
        try store.insertRequestKey(
            NewRequestKey(
                id: id, user: "alice", name: "signer-\(id.suffix(3))", algorithm: algorithm,
                material: material ?? (try sealer.seal(secret, boundTo: KeySealer.requestKeyBinding(id: id, serial: 1))),
                createdAt: 100, expiresAt: nil, scopes: [PathScope("/api/")!], allowedNetworks: []))
    }

    @Test func rowsAndSecretsButNeverTheMaterial() throws {
        let (store, _) = try store()
        try insert(store)
        let row = try store.requestKey(id)
        #expect(row.user == "alice" && row.algorithm == .hmacSHA256 && row.status == .active && row.scopes == ["/api/"] && row.activeSecrets == 1)
        #expect(try store.requestKeys(user: "alice").map(\.id) == [id])
        #expect(try store.requestKeySecrets(id) == [RequestKeySecretRow(serial: 1, state: "active", retireAt: nil, createdAt: 100)])
        #expect(throws: StoreRefusal.keyNameTaken(user: "alice", name: "signer-SSS")) { try insert(store) }
        #expect(throws: StoreRefusal.noSuchKey("kwh_nope")) { try store.requestKey("kwh_nope") }
    }

    @Test func theCheckOpensTheSecretAndSeesChanges() throws {
        let (store, t) = try store()
        try insert(store)
        let lookup = try KeyLookup(path: t.path, clock: FixedClock(1_000), cache: false, sealer: sealer)
        let key = try #require(try lookup.requestKey(id: id))
        #expect(key.algorithm == .hmacSHA256 && key.keys.count == 1 && key.record.userName == "alice")
        #expect(key.verifies(HMACKey(secret).authenticationCode(Array("m".utf8)), over: Array("m".utf8)))
        try store.requestKeys.setStatus(id, .disabled)
        #expect(try lookup.requestKey(id: id)?.record.status == .disabled)
        // No master key, or the wrong one: the lookup fails instead of answering with fewer keys.
        #expect(throws: (any Error).self) { try KeyLookup(path: t.path, clock: FixedClock(1_000), cache: false).requestKey(id: id) }
        let wrong = KeySealer(masterKey: Array(repeating: 4, count: 32))
        #expect(throws: (any Error).self) { try KeyLookup(path: t.path, clock: FixedClock(1_000), cache: false, sealer: wrong).requestKey(id: id) }
        // A sealed secret moved to another credential does not open there.
        let other = "kwh_" + String(repeating: "T", count: 16)
        try insert(store, id: other, material: try sealer.seal(secret, boundTo: KeySealer.requestKeyBinding(id: id, serial: 1)))
        #expect(throws: (any Error).self) {
            try KeyLookup(path: t.path, clock: FixedClock(1_000), cache: false, sealer: sealer).requestKey(id: other)
        }
        #expect(try lookup.requestKey(id: "kwh_" + String(repeating: "Z", count: 16)) == nil)
        #expect(try lookup.requestKey(id: "kwk_" + String(repeating: "Z", count: 16)) == nil)
    }

    @Test func ed25519KeysAndRotationStates() throws {
        let (store, t) = try store()
        let signer = try PrivateSigningKey.generate(.ed25519)
        try insert(store, algorithm: .ed25519, material: signer.publicKey.subjectPublicKeyInfo())
        // What a rotation leaves behind: a second key retiring at 2,000, and an inactive third.
        let second = try PrivateSigningKey.generate(.ed25519)
        try store.db.statement(
            "INSERT INTO request_key_secrets (credential_id, serial, state, retire_at, material, created_at) VALUES (?, 2, 'retiring', 2000, ?, 150)"
        ).run([.text(id), .blob(second.publicKey.subjectPublicKeyInfo())])
        try store.db.statement(
            "INSERT INTO request_key_secrets (credential_id, serial, state, material, created_at) VALUES (?, 3, 'inactive', ?, 160)"
        ).run([.text(id), .blob(second.publicKey.subjectPublicKeyInfo())])
        let message = Array("base".utf8)
        let before = try #require(try KeyLookup(path: t.path, clock: FixedClock(1_999), cache: false, sealer: sealer).requestKey(id: id))
        #expect(
            before.keys.count == 2 && before.verifies(second.sign(message), over: message) && before.verifies(signer.sign(message), over: message))
        let after = try #require(try KeyLookup(path: t.path, clock: FixedClock(2_000), cache: false, sealer: sealer).requestKey(id: id))
        #expect(after.keys.count == 1 && !after.verifies(second.sign(message), over: message))
        // A cached lookup drops the retiring key at its deadline without a commit.
        let clock = MovableClock(1_999)
        let cached = try KeyLookup(path: t.path, clock: clock, sealer: sealer)
        try cached.refresh()
        #expect(try cached.requestKey(id: id)?.keys.count == 2)
        clock.now = 2_000
        #expect(try cached.requestKey(id: id)?.keys.count == 1)
        // The state column allows the rotation's states only, and a deadline exactly for retiring.
        #expect(throws: (any Error).self) {
            try store.db.statement("UPDATE request_key_secrets SET state = 'gone' WHERE serial = 1").run()
        }
        #expect(throws: (any Error).self) {
            try store.db.statement("UPDATE request_key_secrets SET state = 'retiring' WHERE serial = 1").run()
        }
    }

    @Test func deletingTheCredentialOrItsOwnerTakesTheSecretsAndUsageCounts() throws {
        let (store, _) = try store()
        try insert(store)
        try store.applyUsage([id: UsageDelta(count: 3, lastAt: 500, lastIP: "192.0.2.1")])
        let row = try store.requestKey(id)
        #expect(row.useCount == 3 && row.lastUsedAt == 500 && row.lastUsedIP == "192.0.2.1")
        try store.requestKeys.delete(id)
        #expect(try store.db.statement("SELECT count(*) FROM request_key_secrets").first { $0.int64(0) } == 0)
        try insert(store)
        try store.deleteUser("alice")
        #expect(try store.db.statement("SELECT count(*) FROM request_keys").first { $0.int64(0) } == 0)
        #expect(try store.db.statement("SELECT count(*) FROM request_key_secrets").first { $0.int64(0) } == 0)
    }
}

/// A clock a test moves by hand.
final class MovableClock: Clock, @unchecked Sendable {
    var now: Int64
    init(_ now: Int64) { self.now = now }
}
