#if canImport(Glibc)
import Glibc
#endif
import KeywardCrypto

/// A change stamp shared by every Keyward process using one database, so workers can tell with
/// a single memory read whether any decision-relevant row changed since they cached it.
///
/// The stamp is 8 bytes in `<db>.generation`, mapped shared into each reader. After committing
/// a change, a writer stores a fresh random value there (no read-modify-write, so no lock): any
/// difference means "changed". Reading `PRAGMA data_version` instead would start a read
/// transaction per check, whose WAL locks serialise the workers.
public final class Generation: @unchecked Sendable {
    private let fd: Int32
    private let map: UnsafeMutableRawPointer

    /// The stamp file for the database at `databasePath`.
    public static func path(forDatabase databasePath: String) -> String { databasePath + ".generation" }

    /// Maps the stamp file, creating it when `create` is set; nil when it cannot be used
    /// (callers then fall back to `PRAGMA data_version`).
    public init?(databasePath: String, create: Bool = false) {
        let path = Self.path(forDatabase: databasePath)
        var fd = open(path, O_RDWR | O_CLOEXEC)
        if fd < 0 && create {
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            if fd >= 0 {
                var stamp = Self.freshStamp()
                _ = withUnsafeBytes(of: &stamp) { pwrite(fd, $0.baseAddress, 8, 0) }
            }
        }
        if fd < 0 { fd = open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size >= 8,
              let map = mmap(nil, 8, PROT_READ, MAP_SHARED, fd, 0), map != MAP_FAILED
        else { close(fd); return nil }
        self.fd = fd
        self.map = map
    }

    deinit {
        munmap(map, 8)
        close(fd)
    }

    /// The current stamp. An aligned 8-byte load: it cannot tear on the platforms Keyward runs on.
    public var current: UInt64 { map.load(as: UInt64.self) }

    /// Announces a committed change to every process.
    public func bump() {
        var stamp = Self.freshStamp()
        _ = withUnsafeBytes(of: &stamp) { pwrite(fd, $0.baseAddress, 8, 0) }
    }

    private static func freshStamp() -> UInt64 {
        SecureRandom.bytes(8).reduce(0) { $0 << 8 | UInt64($1) }
    }
}
