import Foundation
import Testing

@testable import KeywardStore

#if canImport(Glibc)
    import Glibc
#endif

/// What `keyward init` creates beside the database (the key file, the generation stamp) is the
/// owner's whatever the umask, open ones are tightened, and commands refuse a database that other
/// users may read or write with one line that says what to do (issue 8, item 7). Serialised: the
/// umask is the process's; only masks that leave the owner every permission are set here, so tests
/// running beside these still create their files (KeywardCLITests tries 0277 in a child process).
@Suite(.serialized) struct PrivateFilesTests {
    func mode(_ path: String) -> Int {
        var info = stat()
        return unsafe stat(path, &info) == 0 ? Int(info.st_mode & 0o777) : -1
    }

    func withUmask<T>(_ mask: mode_t, _ body: () throws -> T) rethrows -> T {
        let previous = umask(mask)
        defer { umask(previous) }
        return try body()
    }

    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "keyward-modes-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test(arguments: [mode_t(0o000), 0o022, 0o027, 0o077])
    func theKeyFileAndTheDatabaseAre0600WhateverTheUmask(mask: mode_t) throws {
        let dir = try tempDir()
        let db = dir + "/k.db"
        try withUmask(mask) {
            _ = try KeyFile.create(path: KeyFile.defaultPath(forDatabase: db))
            try Store.initialize(path: db)
            try Store(path: db).addUser("alice", now: 1)
        }
        for file in [db, db + ".key", Generation.path(forDatabase: db)] {
            #expect(mode(file) == 0o600, "umask \(String(mask, radix: 8)): \(file)")
        }
        #expect(throws: Never.self) { try KeyFile.load(path: KeyFile.defaultPath(forDatabase: db)) }
    }

    @Test func anOpenKeyFileIsRefusedUntilInitTightensIt() throws {
        let dir = try tempDir()
        let path = dir + "/k.db.key"
        _ = try KeyFile.create(path: path)
        for open: mode_t in [0o644, 0o640, 0o604, 0o602] {
            unsafe chmod(path, open)
            let error = #expect(throws: KeyFileError.self) { try KeyFile.load(path: path) }
            #expect(error?.description.contains("open to other users (mode \(String(open, radix: 8)))") == true)
            #expect(error?.description.contains("\n") == false)
            try KeyFile.makePrivate(path: path)
            #expect(mode(path) == 0o600)
            #expect(throws: Never.self) { try KeyFile.load(path: path) }
        }
        // An owner-only mode stays as it is.
        unsafe chmod(path, 0o400)
        try KeyFile.makePrivate(path: path)
        #expect(mode(path) == 0o400)
    }

    @Test func everyFileOfTheDatabaseThatOthersMayUseIsRefusedInOneLine() throws {
        let t = try TempDB()
        _ = try Store(path: t.path)  // makes the generation stamp
        for file in [t.path, Generation.path(forDatabase: t.path)] {
            for open: mode_t in [0o644, 0o604, 0o602, 0o601] {
                unsafe chmod(file, open)
                let error = #expect(throws: DatabaseFileError.self) { try DatabaseFile.requirePrivate(t.path) }
                #expect(error?.description.hasPrefix("\(file) is open to other users (mode \(String(open, radix: 8)))") == true)
                #expect(error?.description.contains("\n") == false)
                try Store.initialize(path: t.path)
                #expect(mode(file) == 0o600)
            }
        }
        // A WAL left world-readable by an older version is found and tightened too.
        let wal = t.path + "-wal"
        #expect(FileManager.default.createFile(atPath: wal, contents: Data()))
        unsafe chmod(wal, 0o644)
        #expect(throws: DatabaseFileError.self) { try DatabaseFile.requirePrivate(t.path) }
        try DatabaseFile.prepare(t.path)  // what init does first (SQLite then removes an empty WAL)
        #expect(mode(wal) == 0o600)
        #expect(throws: Never.self) { try DatabaseFile.requirePrivate(t.path) }
    }

    @Test(arguments: [mode_t(0o000), 0o022, 0o077])
    func sqliteGivesItsWALAndSHMTheDatabaseFilesMode(mask: mode_t) throws {
        let t = try TempDB()
        unsafe chmod(t.path, 0o640)
        try withUmask(mask) {
            let store = try Store(path: t.path)
            try store.addUser("alice", now: 1)  // the WAL and its index exist while `store` is open
            #expect(mode(t.path + "-wal") == 0o640)
            #expect(mode(t.path + "-shm") == 0o640)
        }
    }
}
