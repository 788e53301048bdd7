import KeywardCrypto

#if canImport(Glibc)
    import Glibc
#endif

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
        let flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC
        do throws(SystemError) {
            do throws(SystemError) {
                fd = try Syscall.check("cannot open \(path)") { unsafe open(path, flags) }
            } catch  where error.code == ENOENT {
                fd = try Self.create(path, like: databasePath, flags: flags)
            }
        } catch {
            throw StoreError(code: 1, message: error.description)
        }
        if writable && current == nil { try bump() }
    }

    /// Creates the stamp file with the database file's mode (and, as root, its owner), or opens
    /// the one another process created meanwhile.
    private static func create(_ path: String, like databasePath: String, flags: Int32) throws(SystemError) -> Int32 {
        var db = stat()
        // A database that cannot be examined yet (it is created after the stamp) gets 0600.
        let examined = (try? Syscall.check("stat \(databasePath)") { unsafe stat(databasePath, &db) }) != nil
        let mode = examined ? db.st_mode & 0o666 : 0o600
        let fd: Int32
        do throws(SystemError) {
            fd = try Syscall.check("cannot create \(path)") { unsafe open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
        } catch  where error.code == EEXIST {
            return try Syscall.check("cannot open \(path)") { unsafe open(path, flags) }
        }
        do throws(SystemError) {
            try Syscall.check("cannot chmod \(path)") { fchmod(fd, mode) }  // open() applied the umask
            if examined && geteuid() == 0 { try Syscall.check("cannot chown \(path)") { fchown(fd, db.st_uid, db.st_gid) } }
        } catch {
            Syscall.closeAfterUse(fd)  // nothing was written through it
            _ = try? Syscall.check("unlink \(path)") { unsafe unlink(path) }  // the next open creates it again
            throw error
        }
        return fd
    }

    deinit { Syscall.closeAfterUse(fd) }  // read-only or pwrite-only: nothing left to flush

    /// The current stamp, or nil when the file is short or unreadable (callers then reload).
    public var current: UInt64? {
        // Read on every check: into a stack value, no allocation. pread writes at most the 8
        // bytes of `value`; the stamp is only ever compared for equality, so byte order is moot.
        var value: UInt64 = 0
        let n = try? Syscall.check("pread") { unsafe withUnsafeMutableBytes(of: &value) { unsafe pread(fd, $0.baseAddress, 8, 0) } }
        return n == 8 ? value : nil
    }

    /// Announces a committed change to every process.
    public func bump() throws {
        let stamp = SecureRandom.bytes(8)
        do throws(SystemError) {
            // pwrite reads exactly the 8 bytes of the array.
            let n = try Syscall.check("pwrite") { unsafe stamp.withUnsafeBytes { unsafe pwrite(fd, $0.baseAddress, 8, 0) } }
            guard n == 8 else { throw SystemError(call: "pwrite (\(n) of 8 bytes)", code: EIO) }
        } catch {
            throw StoreError(code: 1, message: "cannot stamp the change for running servers: \(error)")
        }
    }
}
