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
        candidates(forDatabase: path).filter { access($0, F_OK) == 0 }
    }

    /// Creates the database file 0600 when it does not exist, and sets any of its files that
    /// others may use to 0600 (one an administrator made 0640 for a group stays): `keyward init`.
    public static func prepare(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            defer { close(fd) }
            guard fchmod(fd, 0o600) == 0 else { throw failure("cannot chmod 600", path) }  // open() applied the umask
        } else if errno != EEXIST {
            throw failure("cannot create", path)
        }
        for (file, mode) in try modes(forDatabase: path) where mode & 0o007 != 0 {
            guard chmod(file, 0o600) == 0 else { throw failure("cannot chmod 600", file) }
        }
    }

    /// Refuses a database whose files others may read or write: no command opens one, and
    /// `keyward serve` will not start on one.
    public static func requirePrivate(_ path: String) throws {
        for (file, mode) in try modes(forDatabase: path) where mode & 0o007 != 0 {
            throw DatabaseFileError(description: "\(file) is open to other users (mode \(String(mode, radix: 8))); "
                                    + "it holds password and key hashes: chmod o-rwx it, or run keyward init")
        }
    }

    /// The permission bits of each file of the database that exists. A `-wal` or `-shm` file that
    /// goes away meanwhile (SQLite removes them when the last connection closes) is no error.
    static func modes(forDatabase path: String) throws -> [(String, UInt32)] {
        try candidates(forDatabase: path).compactMap { file in
            var info = stat()
            guard stat(file, &info) == 0 else {
                if errno == ENOENT && file != path { return nil }
                throw failure("cannot stat", file)
            }
            return (file, UInt32(info.st_mode & 0o777))
        }
    }

    private static func failure(_ what: String, _ path: String) -> DatabaseFileError {
        DatabaseFileError(description: "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}

/// A database file that is open to other users, or whose mode cannot be read or set. Names the
/// file and its mode only.
public struct DatabaseFileError: Error, CustomStringConvertible, Sendable {
    /// One line: the file, what is wrong, and what to do.
    public let description: String
}
