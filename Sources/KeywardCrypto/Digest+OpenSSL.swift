internal import COpenSSL

/// SHA-256 and HMAC-SHA256 through libcrypto's one-shot functions.
///
/// One-shot calls avoid allocating an EVP context per check; both are thread-safe.
public enum Digest {
    /// SHA-256 of `data` (FIPS 180-4).
    public static func sha256(_ data: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        let bytes = Array(data)
        bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                _ = SHA256(input.baseAddress, input.count, output.baseAddress)
            }
        }
        return out
    }

    /// HMAC-SHA256 of `message` under `key` (RFC 2104, RFC 4231 vectors in the tests).
    public static func hmacSHA256(key: [UInt8], message: some Collection<UInt8>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var outLength: UInt32 = 0
        let bytes = Array(message)
        key.withUnsafeBufferPointer { k in
            bytes.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    let result = HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress, m.count,
                                      o.baseAddress, &outLength)
                    precondition(result != nil && outLength == 32, "HMAC-SHA256 failed")
                }
            }
        }
        return out
    }
}

/// Constant-time equality for secrets and MACs.
public enum ConstantTime {
    /// True when both are equal; time depends only on the length, never on where they differ.
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, x.count) == 0 }
        }
    }
}

/// Cryptographically secure random bytes from RAND_bytes.
public enum SecureRandom {
    /// `count` random bytes. A failing CSPRNG is a broken invariant: it traps.
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let rc = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(rc == 1, "RAND_bytes failed")
        return out
    }
}
