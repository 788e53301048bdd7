/// The one rotation state machine for every rotatable credential: the secrets of one type under
/// one owner (a service's keys, its JWT secrets, a user's HMAC secrets) and the two secrets of an
/// API key during `key roll`. Pure: the caller loads the members, asks here, and writes the
/// answer in the same transaction, so no sequence of operations can leave a state these rules
/// forbid.
///
/// The rules (DESIGN.md, "Services"): at least one active (one that is not retiring: it must
/// still be active after every deadline), at most one inactive, at most two active. Two active is a rotation under way (clients switch from the old secret to the new
/// one); the inactive one is the way back (reactivate) or out (delete). A secret `roll` retires
/// keeps working until its grace deadline and counts as active until then; past it, it is gone.
public enum RotationState: Sendable, Equatable, Hashable {
    /// Proves possession at the check.
    case active
    /// Kept, refused at the check; may be reactivated or deleted.
    case inactive
    /// The old secret of a roll: active until the Unix second `until`, then gone.
    case retiring(until: Int64)

    /// `active`, `inactive` or `retiring`, as listings and the admin API show it.
    public var name: String {
        switch self {
        case .active: "active"
        case .inactive: "inactive"
        case .retiring: "retiring"
        }
    }

    /// True when it proves possession at `now`: active, or retiring before its deadline.
    public func isActive(at now: Int64) -> Bool {
        switch self {
        case .active: true
        case .inactive: false
        case .retiring(let until): now < until
        }
    }
}

/// One secret of a rotation set, by its public id.
public struct RotationMember: Sendable, Equatable, Hashable {
    /// The public id (`kws_…`, `kwj_…`, `kwh_…`, or a label of an API key's secret).
    public var id: String
    /// Its state.
    public var state: RotationState

    /// A member from its parts.
    public init(id: String, state: RotationState) {
        self.id = id
        self.state = state
    }
}

/// What may be asked of a rotation set.
public enum RotationOperation: Sendable, Equatable, Hashable {
    /// A new active secret with this id.
    case add(String)
    /// An active secret becomes inactive.
    case discard(String)
    /// An inactive secret becomes active again.
    case reactivate(String)
    /// An inactive secret is removed.
    case delete(String)
    /// A new active secret with this id; the one active secret retires at `graceUntil`.
    case roll(String, graceUntil: Int64)

    /// The verb, as in audit actions and command lines.
    public var verb: String {
        switch self {
        case .add: "add"
        case .discard: "discard"
        case .reactivate: "reactivate"
        case .delete: "delete"
        case .roll: "roll"
        }
    }

    /// The id the operation names.
    public var id: String {
        switch self {
        case .add(let id), .discard(let id), .reactivate(let id), .delete(let id), .roll(let id, _): id
        }
    }
}

/// Why the machine refused an operation (or a stored state): the rule, and one line for people
/// naming the credential and the way out.
public struct RotationRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// The rules, as stable machine codes.
    public enum Rule: String, Sendable, CaseIterable {
        /// At least one must stay active.
        case lastActive = "last_active"
        /// At most one may be inactive.
        case inactiveTaken = "inactive_taken"
        /// At most two may be active.
        case activeFull = "active_full"
        /// No member has the id.
        case unknown = "unknown_credential"
        /// A member has the id already.
        case duplicate = "duplicate_credential"
        /// The operation needs an active member.
        case notActive = "not_active"
        /// The operation needs an inactive member.
        case notInactive = "not_inactive"
        /// The member retires by itself at its deadline; nothing else may be done to it.
        case retiring
        /// A roll's grace period must end after now.
        case invalidGrace = "invalid_grace"
    }

    /// The rule broken.
    public var rule: Rule
    /// The member concerned, when one is.
    public var id: String?
    /// One line for people; names public ids only.
    public var description: String

    init(_ rule: Rule, _ id: String?, _ description: String) {
        self.rule = rule
        self.id = id
        self.description = description
    }
}

/// The secrets of one type under one owner, in the order they were added, as the rules allow
/// them to be. A value can only be made valid (`init(first:)`, `init(validating:now:)`) and
/// only changed by an operation the rules allow (`applying`).
public struct RotationSet: Sendable, Equatable {
    /// At least this many active.
    public static let minActive = 1
    /// At most this many active.
    public static let maxActive = 2
    /// At most this many inactive.
    public static let maxInactive = 1

    /// The members, oldest first; retiring ones past their deadline are left out.
    public private(set) var members: [RotationMember]

    /// A new credential's set: one active secret.
    public init(first id: String) {
        members = [RotationMember(id: id, state: .active)]
    }

    /// The members as stored, judged at `now`: retiring ones past their deadline are dropped;
    /// throws the first rule the rest break (a store must never hold such a state).
    public init(validating stored: [RotationMember], now: Int64) throws(RotationRefusal) {
        let current = Self.current(stored, now: now)
        if let broken = Self.violation(of: current, now: now) { throw broken }
        members = current
    }

    /// The member with this id.
    public func member(_ id: String) -> RotationMember? { members.first { $0.id == id } }

    /// The members active at `now`.
    public func active(at now: Int64) -> [RotationMember] { members.filter { $0.state.isActive(at: now) } }

    /// The inactive members.
    public var inactive: [RotationMember] { members.filter { $0.state == .inactive } }

    /// The set after `operation` at `now`, or the rule it would break.
    public func applying(_ operation: RotationOperation, now: Int64) throws(RotationRefusal) -> RotationSet {
        var next = Self.current(members, now: now)
        let id = operation.id
        let index = next.firstIndex { $0.id == id }
        let activeCount = next.filter { $0.state.isActive(at: now) }.count
        switch operation {
        case .add, .roll:
            guard index == nil else { throw RotationRefusal(.duplicate, id, "\(id) exists already") }
        default:
            guard index != nil else { throw RotationRefusal(.unknown, id, "no credential \(id) here") }
        }
        switch operation {
        case .add:
            guard activeCount < Self.maxActive else {
                throw RotationRefusal(
                    .activeFull, id, "\(Self.activeNames(next, now: now)) are active already; discard one first (at most two active)")
            }
            next.append(RotationMember(id: id, state: .active))
        case .roll(_, let graceUntil):
            let plain = next.indices.filter { next[$0].state == .active }
            guard activeCount == 1, plain.count == 1 else {
                throw RotationRefusal(
                    .activeFull, id,
                    "\(Self.activeNames(next, now: now)) are active already; a roll needs exactly one active secret (at most two active)")
            }
            guard graceUntil > now else { throw RotationRefusal(.invalidGrace, id, "the grace period must end after now") }
            next[plain[0]].state = .retiring(until: graceUntil)
            next.append(RotationMember(id: id, state: .active))
        case .discard:
            let i = index!
            switch next[i].state {
            case .inactive: throw RotationRefusal(.notActive, id, "\(id) is inactive already")
            case .retiring(let until):
                throw RotationRefusal(.retiring, id, "\(id) retires by itself at Unix time \(until) (the grace period of a roll)")
            case .active: break
            }
            // A retiring secret is gone at its deadline: only the ones that stay count here.
            guard next.filter({ $0.state == .active }).count > Self.minActive else {
                throw RotationRefusal(
                    .lastActive, id, "\(id) is the only active credential; add or reactivate another first (at least one stays active)")
            }
            if let other = next.first(where: { $0.state == .inactive }) {
                throw RotationRefusal(
                    .inactiveTaken, id, "\(other.id) is inactive already; delete or reactivate it first (at most one inactive)")
            }
            next[i].state = .inactive
        case .reactivate:
            let i = index!
            guard next[i].state == .inactive else {
                throw RotationRefusal(.notInactive, id, "\(id) is \(next[i].state.name), not inactive")
            }
            guard activeCount < Self.maxActive else {
                throw RotationRefusal(
                    .activeFull, id, "\(Self.activeNames(next, now: now)) are active already; discard one first (at most two active)")
            }
            next[i].state = .active
        case .delete:
            let i = index!
            guard next[i].state == .inactive else {
                throw RotationRefusal(
                    .notInactive, id, "\(id) is \(next[i].state.name); discard it first (only an inactive credential can be deleted)")
            }
            next.remove(at: i)
        }
        // Every operation above keeps the rules by construction; a broken one is a bug, not input.
        precondition(Self.violation(of: next, now: now) == nil, "rotation rules broken by \(operation.verb)")
        var result = self
        result.members = next
        return result
    }

    /// The rule `operation` would break at `now`, nil when it is allowed: what a page shows
    /// beside a disabled button.
    public func refusal(of operation: RotationOperation, now: Int64) -> RotationRefusal? {
        do {
            _ = try applying(operation, now: now)
            return nil
        } catch {
            return error
        }
    }

    /// The first rule `members` break at `now` (retiring ones past their deadline counted as
    /// gone), nil when they keep all of them.
    public static func violation(of members: [RotationMember], now: Int64) -> RotationRefusal? {
        let current = Self.current(members, now: now)
        var seen: Set<String> = []
        for member in current where !seen.insert(member.id).inserted {
            return RotationRefusal(.duplicate, member.id, "\(member.id) is listed twice")
        }
        let active = current.filter { $0.state.isActive(at: now) }.count
        let staying = current.filter { $0.state == .active }.count
        let inactive = current.filter { $0.state == .inactive }.count
        // At least one active that stays: a retiring one alone would leave none at its deadline.
        if staying < minActive { return RotationRefusal(.lastActive, nil, "no credential is active for good (at least one must be)") }
        if active > maxActive { return RotationRefusal(.activeFull, nil, "\(active) credentials are active (at most two may be)") }
        if inactive > maxInactive { return RotationRefusal(.inactiveTaken, nil, "\(inactive) credentials are inactive (at most one may be)") }
        return nil
    }

    private static func current(_ members: [RotationMember], now: Int64) -> [RotationMember] {
        members.filter {
            if case .retiring = $0.state { return $0.state.isActive(at: now) }
            return true
        }
    }

    private static func activeNames(_ members: [RotationMember], now: Int64) -> String {
        members.filter { $0.state.isActive(at: now) }.map(\.id).joined(separator: " and ")
    }
}
