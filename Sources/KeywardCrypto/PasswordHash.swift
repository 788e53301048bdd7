/// An scrypt password hash (RFC 7914) in a self-describing string: `scrypt$N$r$p$<salt>$<hash>`.
///
/// For admin-page passwords. Salt (16 random bytes) and hash (32 bytes) are base64url without
/// padding; N, r and p are decimal. Parsing a stored string refuses parameters outside
/// ``Parameters/bounds`` before anything is allocated, so a tampered row cannot make a login
/// allocate gigabytes or spin for minutes. Verification compares in constant time.
public struct PasswordHash: Sendable, Equatable, CustomStringConvertible {
    /// scrypt's cost parameters (RFC 7914 §2).
    public struct Parameters: Sendable, Equatable {
        /// CPU/memory cost, a power of two.
        public let n: UInt64
        /// Block size.
        public let r: UInt64
        /// Parallelism.
        public let p: UInt64

        /// N = 2^15, r = 8, p = 1: 32 MiB and tens of milliseconds per hash (RFC 7914 §2's
        /// interactive-login figure scaled to current hardware, as OWASP recommends).
        public static let `default` = try! Parameters(n: 1 << 15, r: 8, p: 1)

        /// The accepted ranges. Memory 128 r N stays at most 256 MiB, work N r p at most 2^23
        /// (32 times the default).
        public static let bounds = (n: UInt64(1 << 10)...UInt64(1 << 20), r: UInt64(1)...UInt64(32), p: UInt64(1)...UInt64(16))
        /// The largest 128 r N accepted, in bytes.
        public static let maximumMemory: UInt64 = 256 << 20
        /// The largest N r p accepted.
        public static let maximumWork: UInt64 = 1 << 23

        /// Parameters, refused with ``CryptoError/Code/invalidParameter`` outside ``bounds``.
        public init(n: UInt64, r: UInt64, p: UInt64) throws(CryptoError) {
            guard Self.bounds.n.contains(n), n & (n - 1) == 0, Self.bounds.r.contains(r), Self.bounds.p.contains(p),
                128 * r * n <= Self.maximumMemory, n * r * p <= Self.maximumWork
            else {
                throw CryptoError(.invalidParameter, "scrypt parameters outside the accepted bounds")
            }
            self.n = n
            self.r = r
            self.p = p
        }
    }

    /// Salt length in bytes.
    public static let saltLength = 16
    /// Hash length in bytes.
    public static let hashLength = 32

    /// The cost parameters this hash was made with.
    public let parameters: Parameters
    private let salt: [UInt8]
    private let hash: [UInt8]

    /// A new hash of `password` under a fresh random salt.
    public init(password: String, parameters: Parameters = .default) {
        let salt = SecureRandom.bytes(Self.saltLength)
        self.init(parameters: parameters, salt: salt, hash: Self.derive(password, parameters, salt))
    }

    /// A stored hash parsed from its string; refuses any other shape, non-canonical numbers or
    /// base64url, and parameters outside ``Parameters/bounds``.
    public init(encoded: String) throws(CryptoError) {
        let fields = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard fields.count == 6, fields[0] == "scrypt",
            let n = Self.number(fields[1]), let r = Self.number(fields[2]), let p = Self.number(fields[3]),
            let salt = Base64URL.decode(fields[4]), salt.count == Self.saltLength,
            let hash = Base64URL.decode(fields[5]), hash.count == Self.hashLength
        else {
            throw CryptoError(.invalidEncoding, "not an scrypt$N$r$p$salt$hash string")
        }
        try self.init(parameters: Parameters(n: n, r: r, p: p), salt: salt, hash: hash)
    }

    private init(parameters: Parameters, salt: [UInt8], hash: [UInt8]) {
        self.parameters = parameters
        self.salt = salt
        self.hash = hash
    }

    /// The string to store.
    public var encoded: String {
        "scrypt$\(parameters.n)$\(parameters.r)$\(parameters.p)$\(Base64URL.encode(salt))$\(Base64URL.encode(hash))"
    }

    /// True when `password` is the one hashed; constant time in where the hashes differ.
    public func verify(_ password: String) -> Bool {
        ConstantTime.equals(Self.derive(password, parameters, salt), hash)
    }

    /// True when this hash was made with other parameters than `current`, so a successful login
    /// should store a fresh hash.
    public func needsRehash(current: Parameters = .default) -> Bool {
        parameters != current
    }

    /// Parameters only: the salt and hash stay out of logs.
    public var description: String { "PasswordHash(scrypt, N=\(parameters.n), r=\(parameters.r), p=\(parameters.p), redacted)" }

    private static func derive(_ password: String, _ parameters: Parameters, _ salt: [UInt8]) -> [UInt8] {
        do {
            return try Scrypt.derive(
                password: Array(password.utf8), salt: salt, n: parameters.n, r: parameters.r, p: parameters.p, length: hashLength)
        } catch {
            // Bounded parameters only fail when memory runs out: a broken invariant.
            preconditionFailure("\(error)")
        }
    }

    /// A canonical decimal: digits only, no sign, no leading zero, at most 19 digits (fits UInt64).
    private static func number(_ text: Substring) -> UInt64? {
        guard (1...19).contains(text.utf8.count), text.utf8.allSatisfy({ (48...57).contains($0) }),
            text.utf8.first != 48
        else { return nil }
        return UInt64(text)
    }
}
