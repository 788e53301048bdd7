#if canImport(Glibc)
import Glibc
#endif
import KeywardCrypto

/// A change stamp shared by every Keyward process using one database, so workers can tell with
/// one small read whether any decision-relevant row changed since they cached it.
///
/// The stamp is 8 bytes in `<db>.generation`. After committing a change, a writer stores a fresh
/// random value there (no read-modify-write, so no lock): any difference means "changed". Reading
/// `PRAGMA data_version` on every check instead would start a read transaction per check, whose
/// WAL locks serialise the workers. The file takes the database file's owner and mode, so whoever
/// may change the database may also stamp it.
public final class Generation: @unchecked Sendable {
    private let fd: Int32

    /// The stamp file for the database at `databasePath`.
    public static func path(forDatabase databasePath: String) -> String { databasePath + ".generation" }

    /// Opens the stamp file for reading and, with `writable`, for stamping (creating it then).
    public init(databasePath: String, writable: Bool) throws {
        let path = Self.path(forDatabase: databasePath)
        var fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
        if fd < 0 && errno == ENOENT {
            var db = stat()
            let mode = stat(databasePath, &db) == 0 ? db.st_mode & 0o666 : 0o600
            fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            if fd >= 0 {
                fchmod(fd, mode)  // open() applied the umask
                if geteuid() == 0 && stat(databasePath, &db) == 0 { _ = fchown(fd, db.st_uid, db.st_gid) }
            } else if errno == EEXIST {
                fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC)
            }
        }
        guard fd >= 0 else {
            throw StoreError(code: 1, message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        if writable && current == nil { try bump() }
    }

    deinit { close(fd) }

    /// The current stamp, or nil when the file is short or unreadable (callers then reload).
    public var current: UInt64? {
        var value: UInt64 = 0
        let n = withUnsafeMutableBytes(of: &value) { pread(fd, $0.baseAddress, 8, 0) }
        return n == 8 ? value : nil
    }

    /// Announces a committed change to every process.
    public func bump() throws {
        var stamp = SecureRandom.bytes(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let n = withUnsafeBytes(of: &stamp) { pwrite(fd, $0.baseAddress, 8, 0) }
        guard n == 8 else {
            throw StoreError(code: 1, message: "cannot stamp the change for running servers: \(String(cString: strerror(errno)))")
        }
    }
}
