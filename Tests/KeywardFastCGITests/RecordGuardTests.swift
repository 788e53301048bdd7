import Testing

@testable import KeywardFastCGI

/// FastCGI 1.0 records, built the way a web server sends them.
enum Records {
    static func record(_ type: UInt8, _ content: [UInt8], id: UInt16 = 1, padding: UInt8 = 0) -> [UInt8] {
        [1, type, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(content.count >> 8), UInt8(content.count & 0xFF), padding, 0]
            + content + [UInt8](repeating: 0, count: Int(padding))
    }

    static func length(_ n: Int) -> [UInt8] {
        n < 128 ? [UInt8(n)] : [UInt8(0x80 | (n >> 24) & 0x7F), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
    }

    static func pair(_ name: String, _ value: String) -> [UInt8] {
        length(name.utf8.count) + length(value.utf8.count) + Array(name.utf8) + Array(value.utf8)
    }

    static let begin = record(1, [0, 1, 0, 0, 0, 0, 0, 0])

    static func head(_ pairs: [UInt8]) -> [UInt8] {
        begin + record(4, pairs, padding: 3) + record(4, [])
    }
}

@Suite struct RecordGuardTests {
    func verdict(_ bytes: [UInt8], limit: Int = 4096) -> RecordGuard.Verdict {
        RecordGuard.check(bytes, limit: limit)
    }

    @Test func wellFormedHeads() {
        let pairs = Records.pair("REQUEST_METHOD", "GET") + Records.pair("HTTP_AUTHORIZATION", String(repeating: "k", count: 300))
        #expect(verdict(Records.head(pairs)) == .valid)
        #expect(verdict(Records.head([])) == .valid)
        // Params split over several records; the authorizer role.
        let authorizer = Records.record(1, [0, 2, 0, 0, 0, 0, 0, 0])
        #expect(verdict(authorizer + Records.record(4, pairs) + Records.record(4, [])) == .valid)
        let split =
            Records.begin + Records.record(4, Array(pairs[0..<5]))
            + Records.record(4, Array(pairs[5...])) + Records.record(4, [])
        #expect(verdict(split) == .valid)
    }

    @Test func incompleteHeadsWaitForMoreBytes() {
        let full = Records.head(Records.pair("A", "B"))
        for cut in [0, 3, 8, 16, 20, full.count - 1] {
            if case .incomplete = verdict(Array(full[0..<cut])) {} else { Issue.record("cut at \(cut)") }
        }
    }

    @Test func pairsLongerThanTheStreamAreRefused() {
        // The libfcgi crash: a name length near 2^31 overflows its allocation.
        let huge = [0xFF, 0xFF, 0xFF, 0xFE, 0] as [UInt8]
        if case .invalid = verdict(Records.head(huge)) {} else { Issue.record("2 GiB name accepted") }
        if case .invalid = verdict(Records.head(Records.length(1 << 26) + [0] + Array("x".utf8))) {} else { Issue.record("64 MiB name") }
        if case .invalid = verdict(Records.head([5, 5] + Array("abc".utf8))) {} else { Issue.record("short pair") }
        if case .invalid = verdict(Records.head([0x80, 0, 0])) {} else { Issue.record("truncated length") }
    }

    @Test func otherProtocolViolations() {
        let pairs = Records.pair("A", "B")
        func invalid(_ bytes: [UInt8]) -> Bool { if case .invalid = verdict(bytes) { true } else { false } }
        #expect(invalid([2] + Records.head(pairs).dropFirst()))  // version 2
        #expect(invalid(Records.record(4, pairs) + Records.record(4, [])))  // params before begin
        #expect(invalid(Records.begin + Records.begin))  // two begins
        #expect(invalid(Records.record(1, [0, 1, 0])))  // short begin
        #expect(invalid(Records.begin + Records.record(5, [1, 2, 3])))  // stdin before params end
        #expect(invalid(Records.head(Records.pair("A", String(repeating: "v", count: 5000)))))  // over the limit
        // What libfcgi would handle on paths Keyward cannot guard.
        #expect(invalid(Records.record(9, Records.pair("FCGI_MAX_CONNS", ""), id: 0) + Records.head(pairs)))  // management record
        #expect(invalid(Records.begin + Records.record(4, pairs, id: 2) + Records.record(4, [])))  // params of another id
        #expect(invalid(Records.begin + Records.record(4, pairs) + Records.record(4, [], id: 2)))  // end of another id
        #expect(invalid(Records.record(1, [0, 1, 0, 0, 0, 0, 0, 0], id: 0) + Records.record(4, [], id: 0)))  // id 0
        #expect(invalid(Records.record(1, [0, 3, 0, 0, 0, 0, 0, 0]) + Records.record(4, [])))  // filter role
        #expect(invalid(Records.record(1, [0, 9, 0, 0, 0, 0, 0, 0]) + Records.record(4, [])))  // unknown role
        #expect(invalid(Records.begin + Records.record(2, []) + Records.record(4, [])))  // abort
    }
}
