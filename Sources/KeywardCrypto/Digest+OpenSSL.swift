internal import COpenSSL

/// SHA-256 and HMAC-SHA256 through libcrypto.
public enum Digest {
    /// SHA-256 of the UTF-8 form of `text`, without copying it.
    public static func sha256(_ text: String) -> [UInt8] {
        var text = text
        return text.withUTF8 { input in
            var out = [UInt8](repeating: 0, count: 32)
            unsafe out.withUnsafeMutableBufferPointer { _ = unsafe SHA256(input.baseAddress, input.count, $0.baseAddress) }
            return out
        }
    }

    /// SHA-256 of `bytes` (FIPS 180-4).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        unsafe bytes.withUnsafeBufferPointer { input in
            unsafe out.withUnsafeMutableBufferPointer { output in
                _ = unsafe SHA256(input.baseAddress, input.count, output.baseAddress)
            }
        }
        return out
    }

    /// HMAC-SHA256 of `message` under `key` (RFC 2104, RFC 4231 vectors in the tests).
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        HMACKey(key).authenticationCode(message)
    }
}

/// A key for HMAC-SHA256, set up once and reused: one per thread, never shared.
///
/// OpenSSL 3's one-shot `HMAC()` fetches the algorithm and schedules the key on every call; here
/// both happen once, and each MAC restarts the keyed context (`EVP_MAC_init` with no key resets
/// HMAC to its precomputed pads).
@safe public final class HMACKey {
    private let ctx: OpaquePointer

    /// Fetches HMAC-SHA256 and schedules `key` once; traps if libcrypto cannot.
    public init(_ key: [UInt8]) {
        guard let mac = unsafe EVP_MAC_fetch(nil, "HMAC", nil) else { preconditionFailure("HMAC unavailable in libcrypto") }
        defer { unsafe EVP_MAC_free(mac) }
        guard let ctx = unsafe EVP_MAC_CTX_new(mac) else { preconditionFailure("EVP_MAC_CTX_new failed") }
        // OSSL_MAC_PARAM_DIGEST is "digest"; names and values must outlive the OSSL_PARAM array.
        let ok = unsafe OpenSSLParameters.with([("digest", .utf8("SHA256"))]) { params in
            unsafe key.withNonNullBytes { k, count in unsafe EVP_MAC_init(ctx, k, count, params) }
        }
        precondition(ok == 1, "EVP_MAC_init failed")
        unsafe self.ctx = unsafe ctx
    }

    deinit { unsafe EVP_MAC_CTX_free(ctx) }

    /// The 32-byte MAC of `message`.
    public func authenticationCode(_ message: UnsafeRawBufferPointer) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length = 0
        let ok = unsafe out.withUnsafeMutableBufferPointer { o in
            unsafe EVP_MAC_init(ctx, nil, 0, nil) == 1
                && EVP_MAC_update(ctx, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count) == 1
                && EVP_MAC_final(ctx, o.baseAddress, &length, 32) == 1
        }
        precondition(ok && length == 32, "HMAC-SHA256 failed")
        return out
    }

    /// The MAC of `message`.
    public func authenticationCode(_ message: [UInt8]) -> [UInt8] {
        unsafe message.withUnsafeBytes { unsafe authenticationCode($0) }
    }

    /// The MAC of the UTF-8 form of `text`.
    public func authenticationCode(_ text: String) -> [UInt8] {
        var s = text
        return s.withUTF8 { unsafe authenticationCode(UnsafeRawBufferPointer($0)) }
    }
}

/// Constant-time equality for secrets and MACs.
public enum ConstantTime {
    /// True when both are equal; time depends only on the length, never on where they differ.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return unsafe a.withUnsafeBufferPointer { x in
            unsafe b.withUnsafeBufferPointer { y in unsafe CRYPTO_memcmp(x.baseAddress, y.baseAddress, x.count) == 0 }
        }
    }
}

/// Cryptographically secure random bytes from RAND_bytes.
public enum SecureRandom {
    /// `count` random bytes. A failing CSPRNG is a broken invariant: it traps.
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let rc = unsafe out.withUnsafeMutableBufferPointer { unsafe RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(rc == 1, "RAND_bytes failed")
        return out
    }
}
