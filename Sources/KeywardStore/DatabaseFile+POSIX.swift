#if canImport(Glibc)
    import Glibc
#endif

/// The files of one database (`<db>`, its `-wal` and `-shm`, its `.generation` stamp) and who may
/// read them: they hold every password hash and key hash, so never anyone but the owner and,
/// when an administrator chose so, a group (0640).
///
/// SQLite creates the `-wal` and `-shm` files with the database file's mode, and `Generation`
/// copies it too, so the database file's mode is the one that matters; it is set here, whatever
/// the umask.
public enum DatabaseFile {
    /// Every file of the database that may exist, the database itself first.
    public static func candidates(forDatabase path: String) -> [String] {
        [path, path + "-wal", path + "-shm", Generation.path(forDatabase: path)]
    }

    /// The database's files that exist, the database itself first.
    public static func paths(forDatabase path: String) -> [String] {
        // access() fails with ENOENT for a file that does not exist, and for anything else
        // (EACCES on a directory) the file cannot be one of ours to list either.
        candidates(forDatabase: path).filter { file in (try? Syscall.check("access \(file)") { unsafe access(file, F_OK) }) != nil }
    }

    /// Creates the database file 0600 when it does not exist, and sets any of its files that
    /// others may use to 0600 (one an administrator made 0640 for a group stays): `keyward init`.
    public static func prepare(_ path: String) throws {
        do throws(SystemError) {
            let fd = try Syscall.check("cannot create \(path)") { unsafe open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
            defer { Syscall.closeAfterUse(fd) }  // nothing was written through it
            try Syscall.check("cannot chmod 600 \(path)") { fchmod(fd, 0o600) }  // open() applied the umask
        } catch  where error.code == EEXIST {
            // It exists: its mode is checked below.
        } catch {
            throw DatabaseFileError(error)
        }
        for (file, mode) in try modes(forDatabase: path) where mode & 0o007 != 0 {
            do throws(SystemError) { try Syscall.check("cannot chmod 600 \(file)") { unsafe chmod(file, 0o600) } } catch {
                throw DatabaseFileError(error)
            }
        }
    }

    /// Refuses a database whose files others may read or write: no command opens one, and
    /// `keyward serve` will not start on one.
    public static func requirePrivate(_ path: String) throws {
        for (file, mode) in try modes(forDatabase: path) where mode & 0o007 != 0 {
            throw DatabaseFileError(
                description: "\(file) is open to other users (mode \(String(mode, radix: 8))); "
                    + "it holds password and key hashes: chmod o-rwx it, or run keyward init")
        }
    }

    /// The permission bits of each file of the database that exists. A `-wal` or `-shm` file that
    /// goes away meanwhile (SQLite removes them when the last connection closes) is no error.
    static func modes(forDatabase path: String) throws(DatabaseFileError) -> [(String, UInt32)] {
        var result: [(String, UInt32)] = []
        for file in candidates(forDatabase: path) {
            var info = stat()
            do throws(SystemError) {
                try Syscall.check("cannot stat \(file)") { unsafe stat(file, &info) }
            } catch {
                if error.code == ENOENT && file != path { continue }
                throw DatabaseFileError(error)
            }
            result.append((file, UInt32(info.st_mode & 0o777)))
        }
        return result
    }
}

/// A database file that is open to other users, or whose mode cannot be read or set. Names the
/// file and its mode only.
public struct DatabaseFileError: Error, CustomStringConvertible, Sendable {
    /// One line: the file, what is wrong, and what to do.
    public let description: String

    init(description: String) { self.description = description }
    init(_ error: SystemError) { self.description = error.description }
}
