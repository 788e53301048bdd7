import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `keyward init` under a permissive (or odd) umask leaves every file it makes the owner's, it
/// takes others' permissions off existing ones, and every command that opens the database refuses
/// one that other users may read or write, with one line and exit status 1 (issue 8, item 7).
@Suite struct FileModeCLITests {
    /// Runs `keyward --db <db> ARGS` under `umask MASK`.
    func run(_ cli: CLI, umask mask: String = "022", _ args: String...) throws -> CLI.Result {
        try cli.run(arguments: args, umask: mask)
    }

    func run(_ cli: CLI, umask mask: String = "022", arguments args: [String]) throws -> CLI.Result {
        try cli.run(arguments: args, umask: mask)
    }

    func mode(_ path: String) -> Int {
        var info = stat()
        return unsafe stat(path, &info) == 0 ? Int(info.st_mode & 0o777) : -1
    }

    @Test(arguments: ["022", "000", "0277"])
    func initMakesEveryFile0600(mask: String) throws {
        let cli = try CLI()
        #expect(try run(cli, umask: mask, "init").status == 0)
        #expect(try run(cli, umask: mask, "user", "add", "alice").status == 0)
        for file in [cli.db, cli.db + ".key", cli.db + ".generation"] {
            #expect(mode(file) == 0o600, "umask \(mask): \(file)")
        }
    }

    @Test func commandsRefuseADatabaseOthersMayReadUntilInitTightensIt() throws {
        let cli = try CLI()
        try cli.run("init")
        unsafe chmod(cli.db, 0o644)
        for args in [["user", "list"], ["key", "list"], ["serve", "--listen", "unix:\(cli.dir)/s.sock"]] {
            let r = try run(cli, arguments: args)
            #expect(r.status == 1, "\(args)")
            #expect(
                r.err
                    == "keyward: \(cli.db) is open to other users (mode 644); it holds password and key hashes: chmod o-rwx it, or run keyward init\n",
                "\(args)")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(cli.dir)/s.sock"))
        #expect(try cli.run("init").status == 0)
        #expect(mode(cli.db) == 0o600)
        #expect(try cli.run("user", "list").status == 0)
        // A group an administrator chose is theirs to keep.
        unsafe chmod(cli.db, 0o640)
        #expect(try cli.run("user", "list").status == 0)
        #expect(try cli.run("init").status == 0)
        #expect(mode(cli.db) == 0o640)
    }

    @Test func commandsRefuseAnOpenKeyFileUntilInitTightensIt() throws {
        let cli = try CLI()
        try cli.run("init")
        unsafe chmod(cli.db + ".key", 0o644)
        // `user list` needs no key, `serve` does: both refuse.
        for args in [["user", "list"], ["serve", "--listen", "unix:\(cli.dir)/s.sock"]] {
            let r = try run(cli, arguments: args)
            #expect(r.status == 1, "\(args)")
            #expect(
                r.err == "keyward: key file \(cli.db).key is open to other users (mode 644); it must be 0600: chmod 600 it, or run keyward init\n",
                "\(args)")
        }
        #expect(try cli.run("init").status == 0)
        #expect(mode(cli.db + ".key") == 0o600)
        #expect(try cli.run("user", "list").status == 0)
    }
}
