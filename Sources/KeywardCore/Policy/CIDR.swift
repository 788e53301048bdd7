/// An IPv4 or IPv6 address, held as 16 bytes (IPv4 as `::ffff:a.b.c.d`, RFC 4291 §2.5.5.2).
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// The 16 bytes in network order; IPv4 is mapped (RFC 4291 §2.5.5.2).
    public let bytes: [UInt8]
    /// True for an IPv4-mapped address (`::ffff:0:0/96`), however it was written.
    public var isIPv4: Bool { bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF }

    /// Parses dotted-quad IPv4 or RFC 4291 §2.2 IPv6 text (with `::` and an embedded IPv4 tail).
    public init?(_ text: some StringProtocol) {
        if let v4 = Self.parseIPv4(Substring(text)) {
            bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + v4
        } else if let v6 = Self.parseIPv6(Substring(text)) {
            bytes = v6
        } else {
            return nil
        }
    }

    static func parseIPv4(_ text: Substring) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count), part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                part.count == 1 || part.first != "0", let v = UInt8(part)
            else { return nil }
            out.append(v)
        }
        return out
    }

    static func parseIPv6(_ text: Substring) -> [UInt8]? {
        guard text.count >= 2, text.count <= 45 else { return nil }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String, allowV4Tail: Bool) -> [UInt8]? {
            if s.isEmpty { return [] }
            var out: [UInt8] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                if allowV4Tail, i == parts.count - 1, part.contains(".") {
                    guard let v4 = parseIPv4(part) else { return nil }
                    out += v4
                } else {
                    guard (1...4).contains(part.count), let v = UInt16(part, radix: 16) else { return nil }
                    out += [UInt8(v >> 8), UInt8(v & 0xFF)]
                }
            }
            return out
        }
        if halves.count == 1 {
            guard let all = groups(halves[0], allowV4Tail: true), all.count == 16 else { return nil }
            return all
        }
        guard let head = groups(halves[0], allowV4Tail: false),
            let tail = groups(halves[1], allowV4Tail: true), head.count + tail.count <= 14
        else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    /// RFC 5952 §4 text: dotted quad for IPv4; for IPv6 lower-case groups without leading
    /// zeros and the longest run of two or more zero groups (the first of equals) as `::`.
    public var compressed: String {
        if isIPv4 { return description }
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        var best = (start: -1, length: 0)
        var run = (start: -1, length: 0)
        for (i, g) in groups.enumerated() {
            if g == 0 {
                run = run.start < 0 ? (i, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        let text = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return text.joined(separator: ":") }
        let head = text[..<best.start].joined(separator: ":")
        let tail = text[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }

    /// Dotted quad for IPv4; eight uncompressed hex groups for IPv6 (not RFC 5952's `::` form).
    public var description: String {
        if isIPv4 { return bytes[12...].map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }
}

/// An address range in CIDR notation (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6).
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the range: the parsed address with host bits cleared.
    public let network: IPAddress
    /// Prefix length over the 128-bit form (IPv4 `/n` is stored as `96 + n`).
    public let prefixLength: Int

    /// Parses `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a single host).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        let maxBits = address.isIPv4 && !parts[0].contains(":") ? 32 : 128
        var length = maxBits
        if parts.count == 2 {
            guard let n = Int(parts[1]), (0...maxBits).contains(n), parts[1].allSatisfy(\.isNumber) else { return nil }
            length = n
        }
        prefixLength = maxBits == 32 ? 96 + length : length
        network = IPAddress(masking: address, bits: prefixLength)
    }

    /// True when `address` is inside the range.
    public func contains(_ address: IPAddress) -> Bool {
        IPAddress(masking: address, bits: prefixLength) == network
    }

    /// `a.b.c.d/n` for IPv4 ranges, else `IPv6/n`; the stored form, which `init?(_:)` parses back.
    public var description: String {
        network.isIPv4 && prefixLength >= 96 ? "\(network)/\(prefixLength - 96)" : "\(network)/\(prefixLength)"
    }
}

extension IPAddress {
    init(masking address: IPAddress, bits: Int) {
        var b = address.bytes
        for i in 0..<16 {
            let keep = max(0, min(8, bits - i * 8))
            b[i] &= keep == 8 ? 0xFF : ~(0xFF >> UInt8(keep))
        }
        bytes = b
    }
}

/// The client's address: the direct peer, or, when the peer is a trusted proxy, the address the
/// proxy reports in the one header the site names (like nginx's `real_ip_header`).
public enum ClientAddress {
    /// The header a trusted proxy names the client in.
    public enum Header: String, Sendable {
        /// `X-Forwarded-For`: a list the proxies append to; the rightmost untrusted entry counts.
        case forwardedFor = "x-forwarded-for"
        /// `X-Real-IP`: one address the proxy sets.
        case realIP = "x-real-ip"
    }

    /// What a trusted proxy's header resolves to when it names no valid address: no IP rule admits
    /// it, and its failures share one throttle bucket.
    public static let unparseable = "unparseable"

    /// With no trusted proxies, a peer outside them, or no header, `peer` itself. Otherwise, for
    /// `X-Forwarded-For`, the rightmost entry that is not a trusted proxy (entries left of it could
    /// be forged by the client), or the leftmost when all are trusted; for `X-Real-IP`, its value.
    /// Entries may carry a port (`192.0.2.1:443`, `[2001:db8::1]:443`); a garbled one resolves to
    /// `unparseable`, never to the proxy's own (typically trusted, internal) address.
    public static func resolve(peer: String?, header: Header, value: String?, trustedProxies: [CIDR]) -> String? {
        guard !trustedProxies.isEmpty, let peer, let peerIP = IPAddress(peer),
            trustedProxies.contains(where: { $0.contains(peerIP) }), let value
        else { return peer }
        func trusted(_ ip: IPAddress) -> Bool { trustedProxies.contains { $0.contains(ip) } }
        switch header {
        case .realIP:
            return address(Substring(value)) ?? unparseable
        case .forwardedFor:
            var candidate: String? = nil
            for hop in value.split(separator: ",", omittingEmptySubsequences: false).reversed() {
                guard let hop = address(hop), let ip = IPAddress(hop) else { return unparseable }
                candidate = hop
                if !trusted(ip) { break }
            }
            return candidate ?? unparseable
        }
    }

    /// The address in one header entry, without blanks, brackets or port; nil when there is none.
    static func address(_ entry: Substring) -> String? {
        var text = entry.drop(while: { $0 == " " || $0 == "\t" })
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        if IPAddress(text) != nil { return String(text) }
        if text.first == "[", let close = text.firstIndex(of: "]") {  // [v6] or [v6]:port
            let inner = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || (rest.first == ":" && isPort(rest.dropFirst())), IPAddress(inner) != nil else { return nil }
            return String(inner)
        }
        if let colon = text.lastIndex(of: ":"), isPort(text[text.index(after: colon)...]) {  // v4:port
            let host = text[..<colon]
            guard IPAddress.parseIPv4(host) != nil else { return nil }
            return String(host)
        }
        return nil
    }

    private static func isPort(_ text: Substring) -> Bool {
        (1...5).contains(text.count) && text.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
    }
}

extension ClientAddress {
    /// The key a client's failures are counted under, so that one client is one count however its
    /// address is written. IPv4, plain or IPv4-mapped (`::ffff:198.51.100.5`, RFC 4291 §2.5.5.2),
    /// is its dotted quad. IPv6 is its /64 (`2001:db8:0:0::/64`), whatever the case, leading zeros
    /// or `::` of the text: a /64 is one link (RFC 4291 §2.5.4) whose hosts pick addresses inside
    /// it at will (RFC 8981), so counting per address would give one client 2^64 fresh counts.
    /// Anything that is not an address (a unix-socket peer, `unparseable`) is its own key.
    public static func key(_ address: String) -> String {
        guard let ip = IPAddress(address) else { return address }
        if ip.isIPv4 { return ip.description }
        return stride(from: 0, to: 8, by: 2).map { String(UInt16(ip.bytes[$0]) << 8 | UInt16(ip.bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":") + "::/64"
    }
}
