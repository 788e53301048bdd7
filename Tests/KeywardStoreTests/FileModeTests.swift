import Foundation
import Testing

@testable import KeywardStore

#if canImport(Glibc)
    import Glibc
#endif

/// The database holds every password and key hash: its files are the owner's whatever the umask
/// (issue 8, item 7). Serialised: the umask is the process's.
@Suite(.serialized) struct FileModeTests {
    func mode(_ path: String) -> Int {
        var info = stat()
        return unsafe stat(path, &info) == 0 ? Int(info.st_mode & 0o777) : -1
    }

    @Test func everyFileIsCreatedPrivateUnderAPermissiveUmask() throws {
        let previous = umask(0o022)
        defer { umask(previous) }
        let t = try TempDB()
        let store = try Store(path: t.path)
        try store.addUser("alice", now: 1)  // a write: the WAL and its index exist now
        for file in [t.path, t.path + "-wal", t.path + "-shm", Generation.path(forDatabase: t.path)] {
            #expect(mode(file) == 0o600, "\(file)")
        }
        #expect(throws: Never.self) { try DatabaseFile.requirePrivate(t.path) }
    }

    @Test func initTightensAnOpenDatabaseAndServeRefusesOne() throws {
        let t = try TempDB()
        _ = try Store(path: t.path)
        unsafe chmod(t.path, 0o644)
        unsafe chmod(Generation.path(forDatabase: t.path), 0o666)
        #expect(throws: DatabaseFileError.self) { try DatabaseFile.requirePrivate(t.path) }
        try Store.initialize(path: t.path)
        #expect(mode(t.path) == 0o600 && mode(Generation.path(forDatabase: t.path)) == 0o600)
        // A group an administrator chose (0640) is theirs to keep.
        unsafe chmod(t.path, 0o640)
        try Store.initialize(path: t.path)
        #expect(mode(t.path) == 0o640)
        #expect(throws: Never.self) { try DatabaseFile.requirePrivate(t.path) }
    }
}
