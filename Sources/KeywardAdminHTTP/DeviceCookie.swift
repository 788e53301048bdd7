import KeywardCore
import KeywardCrypto

/// A browser's (or any cookie-keeping client's) proof that it signed in to an account before:
/// OWASP's "device cookie". Set on every successful sign-in, it lets its holder past the account's
/// lock-out for strangers (`SignInThrottle`), so guessing an account's password from many
/// addresses does not lock its owner out.
///
/// Value: base64url of a random device id (16 bytes), the Unix second it was issued (8 bytes, big
/// endian) and the first 16 bytes of HMAC-SHA256 over a label, the user name, the id and that
/// second, under a key derived from the master key. Nothing is stored: the cookie is good for the
/// account it was issued for, for `Limits.signInTrustSeconds`, on any Keyward sharing the key
/// file. It authenticates nobody; the password is still required.
enum DeviceCookie {
    /// The cookie's name.
    static let name = "keyward_device"

    static let idBytes = 16
    static let macBytes = 16

    /// The HMAC key, derived from the master key under its own label.
    static func key(masterKey: [UInt8]) -> [UInt8] {
        HMACKey(masterKey).authenticationCode("keyward device cookie v1")
    }

    /// A cookie value for `user`, for the device `id` (16 bytes), issued at `now`.
    static func issue(user: String, id: [UInt8], now: Int64, key: HMACKey) -> String {
        precondition(id.count == idBytes)
        let body = id + bigEndian(now)
        return Base64URL.encode(body + mac(user: user, body: body, key: key))
    }

    /// The device id (base64url) when `value` is a cookie issued for `user` less than `lifetime`
    /// seconds before `now` (and not after it); nil for anything else.
    static func verify(_ value: String, user: String, now: Int64, lifetime: Int64, key: HMACKey) -> String? {
        guard value.utf8.count <= 64, let bytes = Base64URL.decode(value), bytes.count == idBytes + 8 + macBytes else { return nil }
        let body = Array(bytes[..<(idBytes + 8)])
        guard ConstantTime.equals(mac(user: user, body: body, key: key), Array(bytes[(idBytes + 8)...])) else { return nil }
        let issued = body[idBytes...].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        guard issued <= now, now - issued < lifetime else { return nil }
        return Base64URL.encode(Array(body[..<idBytes]))
    }

    /// The raw id of a device id `verify` returned.
    static func rawId(_ id: String) -> [UInt8]? {
        guard let bytes = Base64URL.decode(id), bytes.count == idBytes else { return nil }
        return bytes
    }

    /// The `Set-Cookie` value: sent only to the sign-in endpoint, kept for the trust period.
    static func setCookie(_ value: String, config: AdminAPIConfig, https: Bool) -> String {
        var parts = [
            "\(name)=\(value)", "HttpOnly", "SameSite=Strict", "Path=\(config.mount)/admin/api/session",
            "Max-Age=\(config.limits.signInTrustSeconds)",
        ]
        if config.secureCookies || https { parts.append("Secure") }
        return parts.joined(separator: "; ")
    }

    private static func mac(user: String, body: [UInt8], key: HMACKey) -> [UInt8] {
        // The id and second have fixed lengths at the end, so the name's bytes are unambiguous.
        Array(key.authenticationCode(Array("keyward-device-v1\u{0}".utf8) + Array(user.utf8) + [0] + body).prefix(macBytes))
    }

    private static func bigEndian(_ value: Int64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }
}
