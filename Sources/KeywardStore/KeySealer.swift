import KeywardCrypto

/// Seals what must rest encrypted in the database (signing keys' private halves, the secrets of
/// reveal links) with AES-256-GCM under the master key, bound to what it belongs to as
/// associated data, so a sealed value moved to another row no longer opens.
public struct KeySealer: Sendable {
    private let masterKey: [UInt8]

    /// A sealer under the key file's master key.
    public init(masterKey: [UInt8]) {
        self.masterKey = masterKey
    }

    /// `plaintext` sealed and bound to `binding`.
    public func seal(_ plaintext: [UInt8], boundTo binding: [UInt8]) throws -> [UInt8] {
        try AEAD(key: masterKey).seal(plaintext, associatedData: binding)
    }

    /// The plaintext of `sealed`, when it was sealed under this key for `binding`; throws otherwise.
    public func open(_ sealed: [UInt8], boundTo binding: [UInt8]) throws -> [UInt8] {
        try AEAD(key: masterKey).open(sealed, associatedData: binding)
    }
}

extension KeySealer {
    /// What a signed-request credential's secret is sealed to: its credential and serial, so a
    /// sealed secret moved to another credential or slot no longer opens.
    public static func requestKeyBinding(id: String, serial: Int64) -> [UInt8] {
        Array("keyward request key \(id) #\(serial)".utf8)
    }
}
