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
    /// The database's files that exist, the database itself first.
    public static func paths(forDatabase path: String) -> [String] {
        [path, path + "-wal", path + "-shm", Generation.path(forDatabase: path)].filter { access($0, F_OK) == 0 }
    }

    /// Creates the database file 0600 when it does not exist, and sets any of its files that
    /// others may use to 0600 (one an administrator made 0640 for a group stays): `keyward init`.
    public static func prepare(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd >= 0 {
            defer { close(fd) }
            guard fchmod(fd, 0o600) == 0 else { throw failure("chmod 600", path) }  // open() applied the umask
        } else if errno != EEXIST {
            throw failure("cannot create", path)
        }
        for file in paths(forDatabase: path) {
            var info = stat()
            guard stat(file, &info) == 0 else { throw failure("cannot stat", file) }
            if info.st_mode & 0o007 != 0 {
                guard chmod(file, 0o600) == 0 else { throw failure("chmod 600", file) }
            }
        }
    }

    /// Refuses a database whose files others may read or write: `keyward serve` will not start on one.
    public static func requirePrivate(_ path: String) throws {
        for file in paths(forDatabase: path) {
            var info = stat()
            guard stat(file, &info) == 0 else { throw failure("cannot stat", file) }
            guard info.st_mode & 0o007 == 0 else {
                throw StoreError(code: 1, message: "\(file) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))); "
                                 + "it holds password and key hashes: chmod o-rwx it, or run keyward init")
            }
        }
    }

    private static func failure(_ what: String, _ path: String) -> StoreError {
        StoreError(code: 1, message: "\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
