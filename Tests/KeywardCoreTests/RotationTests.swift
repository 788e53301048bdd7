import Testing

@testable import KeywardCore

/// SplitMix64: a seeded generator, so a failing sequence is replayed from its seed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A random operation on a pool of ids (some members, some not), at most a few seconds of grace.
func randomRotationOperation(_ ids: [String], members: [String], now: Int64, using rng: inout SeededGenerator) -> RotationOperation {
    // Mostly members' ids, so that most operations mean something.
    let id = (Bool.random(using: &rng) ? members.randomElement(using: &rng) : nil) ?? ids.randomElement(using: &rng)!
    switch Int.random(in: 0..<9, using: &rng) {
    case 0, 1: return .add(id)
    case 2, 3: return .discard(id)
    case 4, 5: return .reactivate(id)
    case 6, 7: return .delete(id)
    default: return .roll(id, graceUntil: now + Int64.random(in: -1...4, using: &rng))
    }
}

@Suite struct RotationTests {
    static let seeds: [UInt64] = Array(1...40)
    let ids = ["c0", "c1", "c2", "c3", "c4", "c5"]

    /// What the operation would do ignoring the rules, nil when its own precondition fails (the
    /// id unknown or taken, the member in the wrong state): the oracle the machine is held to.
    static func naive(_ members: [RotationMember], _ op: RotationOperation, now: Int64) -> [RotationMember]? {
        var next = members.filter {
            if case .retiring = $0.state { return $0.state.isActive(at: now) }
            return true
        }
        let index = next.firstIndex { $0.id == op.id }
        switch op {
        case .add(let id):
            guard index == nil else { return nil }
            next.append(RotationMember(id: id, state: .active))
        case .roll(let id, let until):
            let plain = next.indices.filter { next[$0].state == .active }
            guard index == nil, plain.count == 1, until > now else { return nil }
            next[plain[0]].state = .retiring(until: until)
            next.append(RotationMember(id: id, state: .active))
        case .discard:
            guard let i = index, next[i].state == .active else { return nil }
            next[i].state = .inactive
        case .reactivate:
            guard let i = index, next[i].state == .inactive else { return nil }
            next[i].state = .active
        case .delete:
            guard let i = index, next[i].state == .inactive else { return nil }
            next.remove(at: i)
        }
        return next
    }

    /// No sequence breaks an invariant, and the machine allows exactly the operations whose
    /// plain effect keeps every rule; a refusal leaves the set as it was.
    @Test(arguments: seeds) func randomSequencesKeepTheRules(seed: UInt64) throws {
        let seen = try Self.run(seed: seed, ids: ids)
        #expect(seen.accepted.count > 10, "seed \(seed): too few operations were allowed to mean anything")
    }

    /// Across the seeds, every operation is allowed somewhere and every rule refuses something:
    /// the sequences reach the corners the rules are about.
    @Test func theSequencesReachEveryRule() throws {
        var verbs: Set<String> = []
        var rules: Set<RotationRefusal.Rule> = []
        for seed in Self.seeds {
            let seen = try Self.run(seed: seed, ids: ids)
            verbs.formUnion(seen.accepted)
            rules.formUnion(seen.refused)
        }
        #expect(verbs == ["add", "discard", "reactivate", "delete", "roll"])
        #expect(rules == Set(RotationRefusal.Rule.allCases))
    }

    static func run(seed: UInt64, ids: [String]) throws -> (accepted: [String], refused: Set<RotationRefusal.Rule>) {
        var rng = SeededGenerator(seed: seed)
        var accepted: [String] = []
        var refused: Set<RotationRefusal.Rule> = []
        var set = RotationSet(first: "c0")
        var now: Int64 = 1_000
        for _ in 0..<200 {
            now += Int64.random(in: 0...2, using: &rng)
            let op = randomRotationOperation(ids, members: set.members.map(\.id), now: now, using: &rng)
            let expected = Self.naive(set.members, op, now: now)
            let allowed = expected.map { RotationSet.violation(of: $0, now: now) == nil } ?? false
            do {
                let next = try set.applying(op, now: now)
                #expect(allowed, "seed \(seed): \(op) was allowed on \(set.members)")
                #expect(next.members == expected, "seed \(seed): \(op)")
                #expect(RotationSet.violation(of: next.members, now: now) == nil)
                #expect(try RotationSet(validating: next.members, now: now) == next)
                set = next
                accepted.append(op.verb)
            } catch {
                refused.insert(error.rule)
                #expect(!allowed, "seed \(seed): \(op) was refused (\(error)) on \(set.members)")
                #expect(set.refusal(of: op, now: now) == error)
                #expect(!error.description.isEmpty)
            }
            let active = set.active(at: now).count
            #expect((RotationSet.minActive...RotationSet.maxActive).contains(active))
            #expect(set.members.contains { $0.state == .active }, "seed \(seed): nothing stays active past the deadlines")
            #expect(set.inactive.count <= RotationSet.maxInactive)
        }
        return (accepted, refused)
    }

    @Test func theLastActiveCannotBeDiscarded() throws {
        let set = RotationSet(first: "a")
        #expect(throws: RotationRefusal.self) { try set.applying(.discard("a"), now: 0) }
        #expect(set.refusal(of: .discard("a"), now: 0)?.rule == .lastActive)
        #expect(set.refusal(of: .discard("a"), now: 0)?.description.contains("only active") == true)
    }

    @Test func atMostTwoActive() throws {
        let two = try RotationSet(first: "a").applying(.add("b"), now: 0)
        #expect(two.refusal(of: .add("c"), now: 0)?.rule == .activeFull)
        let discarded = try two.applying(.discard("a"), now: 0)
        let third = try discarded.applying(.add("c"), now: 0)
        #expect(third.refusal(of: .reactivate("a"), now: 0)?.rule == .activeFull)
        #expect(third.refusal(of: .roll("d", graceUntil: 10), now: 0)?.rule == .activeFull)
    }

    @Test func atMostOneInactive() throws {
        let set = try RotationSet(first: "a").applying(.add("b"), now: 0).applying(.discard("a"), now: 0)
            .applying(.add("c"), now: 0)
        let refusal = set.refusal(of: .discard("b"), now: 0)
        #expect(refusal?.rule == .inactiveTaken)
        #expect(refusal?.description.contains("a is inactive already") == true)
    }

    @Test func onlyAnInactiveOneIsDeleted() throws {
        let set = try RotationSet(first: "a").applying(.add("b"), now: 0)
        #expect(set.refusal(of: .delete("b"), now: 0)?.rule == .notInactive)
        let deleted = try set.applying(.discard("b"), now: 0).applying(.delete("b"), now: 0)
        #expect(deleted.members == [RotationMember(id: "a", state: .active)])
        #expect(deleted.refusal(of: .delete("b"), now: 0)?.rule == .unknown)
        #expect(deleted.refusal(of: .add("a"), now: 0)?.rule == .duplicate)
        #expect(deleted.refusal(of: .reactivate("a"), now: 0)?.rule == .notInactive)
    }

    @Test func aRolledSecretWorksUntilItsGraceEnds() throws {
        let rolled = try RotationSet(first: "old").applying(.roll("new", graceUntil: 100), now: 10)
        #expect(rolled.active(at: 99).map(\.id) == ["old", "new"])
        #expect(rolled.active(at: 100).map(\.id) == ["new"])
        #expect(rolled.refusal(of: .roll("newer", graceUntil: 200), now: 50)?.rule == .activeFull)
        #expect(rolled.refusal(of: .discard("old"), now: 50)?.rule == .retiring)
        #expect(rolled.refusal(of: .roll("x", graceUntil: 200), now: 100) == nil)
        // The new secret is the one that stays: it cannot go while the old one is retiring.
        #expect(rolled.refusal(of: .discard("new"), now: 50)?.rule == .lastActive)
        let again = try rolled.applying(.roll("newer", graceUntil: 300), now: 150)
        #expect(again.members.map(\.id) == ["new", "newer"])
        #expect(RotationSet(first: "a").refusal(of: .roll("b", graceUntil: 5), now: 5)?.rule == .invalidGrace)
    }

    @Test func storedStatesTheRulesForbidAreRefused() {
        func refused(_ members: [RotationMember]) -> RotationRefusal.Rule? {
            do {
                _ = try RotationSet(validating: members, now: 0)
                return nil
            } catch { return error.rule }
        }
        #expect(refused([]) == .lastActive)
        #expect(refused([.init(id: "a", state: .inactive)]) == .lastActive)
        #expect(refused([.init(id: "a", state: .active), .init(id: "b", state: .active), .init(id: "c", state: .active)]) == .activeFull)
        #expect(
            refused([.init(id: "a", state: .active), .init(id: "b", state: .inactive), .init(id: "c", state: .inactive)]) == .inactiveTaken)
        #expect(refused([.init(id: "a", state: .active), .init(id: "a", state: .inactive)]) == .duplicate)
        // A retiring secret past its deadline is gone: it breaks nothing, and counts for nothing.
        #expect(refused([.init(id: "a", state: .retiring(until: 0))]) == .lastActive)
        #expect(refused([.init(id: "a", state: .retiring(until: 0)), .init(id: "b", state: .active)]) == nil)
        #expect(refused([.init(id: "a", state: .retiring(until: 9)), .init(id: "b", state: .inactive)]) == .lastActive)
    }
}
