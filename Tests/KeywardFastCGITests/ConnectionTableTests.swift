import Testing

@testable import KeywardFastCGI

@Suite struct ConnectionTableTests {
    @Test func deadlinesExpireAndTheOldestGoesWhenFull() {
        var table = ConnectionTable(capacity: 3)
        #expect(table.add(10, .awaiting(idle: false), deadline: 2_000, now: 0) == nil)
        #expect(table.add(11, .awaiting(idle: true), deadline: 60_000, now: 5) == nil)
        #expect(table.add(12, .closing, deadline: 2_010, now: 10) == nil)
        // Full: a fourth connection pushes out the one waiting longest.
        #expect(table.add(13, .awaiting(idle: false), deadline: 2_020, now: 20) == 10)
        #expect(table.count == 3 && table.entries[10] == nil)
        #expect(table.timeout(now: 100, cap: 1_000) == 1_000)
        #expect(table.timeout(now: 1_500, cap: 1_000) == 510)
        let expired = table.expire(now: 2_015)
        #expect(expired.map(\.fd) == [12])
        #expect(table.expire(now: 2_020).map(\.fd) == [13])
        #expect(table.entries.keys.sorted() == [11])
    }

    @Test func partialRequestsAreWatchedForHangUpsAndLookedAtWithBackoff() {
        var table = ConnectionTable(capacity: 8)
        _ = table.add(5, .awaiting(idle: true), deadline: 60_000, now: 0)
        // The first bytes of an idle connection's next request start its head timeout.
        table.partial(5, now: 100, headTimeout: 2_000)
        #expect(table.entries[5] == .init(state: .partial(retryAt: 101, backoff: 1), deadline: 2_100, since: 0))
        #expect(table.watch(now: 100).poll.map(\.1) == [.hangUp])
        #expect(table.watch(now: 100).due.isEmpty && table.watch(now: 101).due == [5])
        var backoffs: [Int64] = []
        for _ in 0..<10 {
            table.partial(5, now: 101, headTimeout: 2_000)
            if case .partial(_, let b)? = table.entries[5]?.state { backoffs.append(b) }
        }
        #expect(backoffs == [2, 4, 8, 16, 32, 64, 128, 256, 256, 256])
        #expect(table.entries[5]?.deadline == 2_100, "bytes trickling in do not extend the head timeout")
        #expect(table.timeout(now: 101, cap: 1_000) == 256)
    }
}

@Suite struct RequestCompletenessTests {
    func complete(_ bytes: [UInt8], window: Int = 4_096) -> Bool {
        RecordGuard.isComplete(bytes, window: window)
    }

    @Test func aResponderWaitsForTheEndOfItsBody() {
        let head = Records.head(Records.pair("REQUEST_METHOD", "POST"))
        #expect(!complete(head))
        #expect(!complete(head + Records.record(5, Array("grant_type=x".utf8))))
        #expect(complete(head + Records.record(5, Array("grant_type=x".utf8)) + Records.record(5, [])))
        #expect(complete(head + Records.record(5, [])))
        // A body larger than the peek window is the worker's to read.
        #expect(complete(head + Records.record(5, [UInt8](repeating: 1, count: 100)), window: head.count + 50))
    }

    @Test func anAuthorizerIsCompleteAtTheEndOfItsParams() {
        let authorizer = Records.record(1, [0, 2, 0, 0, 0, 0, 0, 0]) + Records.record(4, Records.pair("A", "B")) + Records.record(4, [])
        #expect(complete(authorizer))
        #expect(!complete(Array(authorizer.dropLast(8))))
    }
}
