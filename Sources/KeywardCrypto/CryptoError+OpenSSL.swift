internal import COpenSSL

/// A refused cryptographic operation: bad key material, a bad encoding, a failed authentication.
///
/// The one error type of this module. It carries a stable `code` to switch on, a fixed `reason`
/// written here, and whatever libcrypto had queued on this thread when the failure happened
/// (swift-nio-ssl's `BoringSSLError` model: the whole queue, not just its last entry, so the root
/// cause is not lost). Neither part ever holds key material, plaintext or passwords: `reason` is
/// a literal and libcrypto's strings are `lib::reason` codes without their data field.
/// A broken invariant (allocation failure, a primitive missing from libcrypto) traps instead.
public struct CryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, for callers that map errors to responses.
    public enum Code: String, Sendable {
        /// Key material is malformed, of the wrong type or curve, or too weak (RSA < 2048 bits).
        case invalidKey
        /// An encoding (DER, JWK, base64url, stored hash string) is malformed.
        case invalidEncoding
        /// A parameter is outside the accepted bounds (key length, scrypt cost, message size).
        case invalidParameter
        /// AEAD authentication failed: the box, its nonce, its tag or the associated data changed.
        case authenticationFailed
        /// libcrypto refused an operation on valid input (key generation, derivation).
        case libraryFailure
    }

    /// The stable kind of failure.
    public let code: Code
    /// A fixed, secret-free explanation written at the throwing site.
    public let reason: String
    /// libcrypto's error queue at the time of failure, oldest first, as `ERR_error_string_n` renders it.
    public let openSSLErrors: [String]

    /// `code: reason [libcrypto errors]`.
    public var description: String {
        openSSLErrors.isEmpty
            ? "\(code.rawValue): \(reason)"
            : "\(code.rawValue): \(reason) [\(openSSLErrors.joined(separator: "; "))]"
    }

    /// An error that takes (and so empties) this thread's libcrypto error queue.
    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
        self.openSSLErrors = CryptoError.drainQueue()
    }

    /// Removes every entry of this thread's libcrypto error queue and renders each one.
    static func drainQueue() -> [String] {
        var errors: [String] = []
        while true {
            let e = ERR_get_error()
            if e == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            unsafe buffer.withUnsafeMutableBufferPointer { unsafe ERR_error_string_n(e, $0.baseAddress, $0.count) }
            errors.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return errors
    }

    /// Discards this thread's libcrypto error queue, after a failure that is an answer (a signature
    /// that does not verify) rather than an error, so it cannot surface in an unrelated later error.
    static func clearQueue() {
        ERR_clear_error()
    }

    /// Traps for a broken invariant, with the libcrypto queue in the message (never key material).
    static func trap(_ what: String, file: StaticString = #file, line: UInt = #line) -> Never {
        let queue = drainQueue()
        preconditionFailure(queue.isEmpty ? what : "\(what) [\(queue.joined(separator: "; "))]", file: file, line: line)
    }
}
