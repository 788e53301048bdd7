import Foundation
import KeywardCrypto

#if canImport(Glibc)
    import Glibc
#endif

/// The server's secrets, kept beside (never inside) the database: the master key for AES-256-GCM
/// encrypted columns and the pepper under which API-key secrets are HMACed.
public struct KeyFile: Sendable, CustomStringConvertible {
    /// 32-byte AES-256-GCM key for encrypted columns.
    public let masterKey: [UInt8]
    /// 32-byte HMAC-SHA256 key for API-key secret hashes; replacing it invalidates every key.
    public let pepper: [UInt8]

    /// The default location: `<db>.key`.
    public static func defaultPath(forDatabase db: String) -> String { db + ".key" }

    /// Reads the key file, refusing one that others can read.
    public static func load(path: String) throws -> KeyFile {
        var info = stat()
        do throws(SystemError) {
            try Syscall.check("cannot read key file \(path)") { unsafe stat(path, &info) }
        } catch {
            throw KeyFileError(error.description)
        }
        guard info.st_mode & 0o077 == 0 else { throw tooOpen(path, info.st_mode) }
        do throws(SystemError) {
            try Syscall.check("cannot read key file \(path)") { unsafe access(path, R_OK) }
        } catch {
            throw KeyFileError(error.description)
        }
        guard let data = FileManager.default.contents(atPath: path),
            let fields = try? JSONDecoder().decode(Stored.self, from: data), fields.version == 1,
            let master = Base64.decode(fields.master_key), master.count == 32,
            let pepper = Base64.decode(fields.pepper), pepper.count == 32
        else { throw KeyFileError("key file \(path) is damaged") }
        return KeyFile(masterKey: master, pepper: pepper)
    }

    /// Creates a new key file with fresh random keys, mode 0600 whatever the umask, failing if one exists.
    public static func create(path: String) throws -> KeyFile {
        let keys = KeyFile(masterKey: SecureRandom.bytes(32), pepper: SecureRandom.bytes(32))
        let json = "{\"version\":1,\"master_key\":\"\(Base64.encode(keys.masterKey))\",\"pepper\":\"\(Base64.encode(keys.pepper))\"}\n"
        let fd: Int32
        do throws(SystemError) {
            fd = try Syscall.check("cannot create key file \(path)") { unsafe open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        } catch {
            throw KeyFileError(error.description)
        }
        do throws(SystemError) {
            let bytes = Array(json.utf8)
            // write reads at most bytes.count bytes of the array.
            let written = try Syscall.check("write") { unsafe bytes.withUnsafeBytes { unsafe write(fd, $0.baseAddress, $0.count) } }
            guard written == bytes.count else { throw SystemError(call: "write (\(written) of \(bytes.count) bytes)", code: EIO) }
            // open() applied the umask: 0600 under a umask of 0277 would be 0400.
            try Syscall.check("fchmod") { fchmod(fd, 0o600) }
            try Syscall.check("fsync") { fsync(fd) }
            // After fsync a failing close loses nothing; it is still reported, the file is then suspect.
            try Syscall.check("close", retry: false) { close(fd) }
        } catch {
            if error.call != "close" { Syscall.closeAfterUse(fd) }
            // A half-written key file must not stay behind; if even that fails, say so too.
            let removed = (try? Syscall.check("unlink") { unsafe unlink(path) }) != nil
            throw KeyFileError("cannot write key file \(path): \(error)" + (removed ? "" : "; remove it by hand"))
        }
        return keys
    }

    /// Refuses a key file that group or other users may use, as `load` does, for commands that
    /// open the database without needing the keys; one that is missing or cannot be examined is
    /// `load`'s to report.
    public static func requirePrivate(path: String) throws {
        var info = stat()
        guard (try? Syscall.check("stat") { unsafe stat(path, &info) }) != nil else { return }  // load's to report
        guard info.st_mode & 0o077 == 0 else { throw tooOpen(path, info.st_mode) }
    }

    private static func tooOpen(_ path: String, _ mode: mode_t) -> KeyFileError {
        KeyFileError(
            "key file \(path) is open to other users (mode \(String(mode & 0o777, radix: 8))); "
                + "it must be 0600: chmod 600 it, or run keyward init")
    }

    /// Takes group and other users' permissions off an existing key file (`keyward init`): one
    /// that others could read is refused by `load`, and chmod is all it takes to fix.
    public static func makePrivate(path: String) throws {
        var info = stat()
        do throws(SystemError) {
            try Syscall.check("cannot read key file \(path)") { unsafe stat(path, &info) }
            guard info.st_mode & 0o077 != 0 else { return }
            try Syscall.check("cannot take others' permissions off key file \(path)") { unsafe chmod(path, info.st_mode & 0o700) }
        } catch {
            throw KeyFileError(error.description)
        }
    }

    /// A redaction marker only; never key bytes.
    public var description: String { "KeyFile(<redacted>)" }

    private struct Stored: Decodable {
        let version: Int
        // The key file's member name.
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let master_key: String
        let pepper: String
    }
}

/// A key file that is missing, unreadable, too open or damaged.
public struct KeyFileError: Error, CustomStringConvertible {
    /// What is wrong, naming the path; never key material.
    public let description: String
    init(_ description: String) { self.description = description }
}
