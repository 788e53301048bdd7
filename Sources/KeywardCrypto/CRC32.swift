/// CRC-32 (IEEE 802.3, the zlib/PNG polynomial), the checksum of GitHub-style token shapes.
///
/// A checksum, not cryptography: it lets a typo or a scanner's candidate be refused without a
/// database lookup. Check value: CRC32("123456789") = 0xCBF43926.
public enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    /// The CRC-32 of `bytes`, without a copy: the credential check runs this on every request.
    public static func checksum(_ bytes: Span<UInt8>, upTo end: Int) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for i in 0..<end { crc = table[Int((crc ^ UInt32(bytes[i])) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// The CRC-32 of `bytes`.
    public static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// The CRC-32 of the UTF-8 form of `text`.
    public static func checksum(_ text: some StringProtocol) -> UInt32 {
        checksum(text.utf8)
    }
}
