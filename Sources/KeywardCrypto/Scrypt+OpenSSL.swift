internal import COpenSSL

/// scrypt (RFC 7914) through libcrypto's `EVP_KDF` "SCRYPT".
enum Scrypt {
    /// The key derived from `password` and `salt` with cost `n`, block size `r` and parallelism `p`.
    /// Callers bound the parameters first; libcrypto's `maxmem_bytes` is set to exactly what they
    /// need, since its 32 MiB default is just below what N = 2^15, r = 8 takes.
    static func derive(password: [UInt8], salt: [UInt8], n: UInt64, r: UInt64, p: UInt64, length: Int) throws(CryptoError) -> [UInt8] {
        guard let kdf = unsafe EVP_KDF_fetch(nil, OpenSSLParameters.cString("SCRYPT"), nil) else {
            CryptoError.trap("SCRYPT unavailable in libcrypto")
        }
        defer { unsafe EVP_KDF_free(kdf) }
        guard let ctx = unsafe EVP_KDF_CTX_new(kdf) else { CryptoError.trap("EVP_KDF_CTX_new failed") }
        defer { unsafe EVP_KDF_CTX_free(ctx) }
        let params: [(StaticString, OpenSSLParameters.Value)] = [
            ("pass", .octets(password)), ("salt", .octets(salt)),
            ("n", .uint64(n)), ("r", .uint64(r)), ("p", .uint64(p)),
            ("maxmem_bytes", .uint64(memoryNeeded(n: n, r: r, p: p))),
        ]
        var out = [UInt8](repeating: 0, count: length)
        let ok = unsafe OpenSSLParameters.with(params) { list in
            unsafe out.withUnsafeMutableBufferPointer { unsafe EVP_KDF_derive(ctx, $0.baseAddress, $0.count, list) == 1 }
        }
        guard ok else { throw CryptoError(.libraryFailure, "scrypt derivation failed") }
        return out
    }

    /// The bytes libcrypto allocates: 128 r (N + 2) for V and X, plus 128 r p for B (RFC 7914 §6),
    /// rounded up a page for its own bookkeeping.
    static func memoryNeeded(n: UInt64, r: UInt64, p: UInt64) -> UInt64 {
        128 * r * (n + 2) + 128 * r * p + 4096
    }
}
