import TallyLedger

/// The retries the random command generators send: they remember the recent commands that
/// carry an idempotency key and send one again, either exactly (replayed while its key lives)
/// or with something else changed under the same key (refused IDEMPOTENCY_KEY_CONFLICT while
/// the key lives, applied as new once it expired). Shared so every generator retries alike.
public struct KeyedRetries {
    /// How many keyed commands are remembered; older ones are forgotten first.
    public let capacity: Int
    public private(set) var commands: [Command] = []

    public init(capacity: Int) {
        self.capacity = capacity
    }

    public var isEmpty: Bool { commands.isEmpty }

    /// Remembers `command` if it carries a key.
    public mutating func remember(_ command: Command) {
        guard !command.idempotencyKey.isEmpty else { return }
        if commands.count >= capacity { commands.removeFirst() }
        commands.append(command)
    }

    /// A remembered command exactly: usually (80 %) one of the `recent` last, whose key is
    /// likely still live. Some must be remembered.
    public func exact(recent: Int, _ rng: inout SplitMix64) -> Command {
        precondition(!commands.isEmpty, "no keyed command to retry")
        return rng.chance(80) ? rng.pick(Array(commands.suffix(recent))) : rng.pick(commands)
    }

    /// One of the `recent` last remembered commands with something else changed under its key
    /// (see `KeyedRetries.conflicting(with:users:actions:_:)`). Some must be remembered.
    public func conflicting(recent: Int, users: [String], actions: [String] = [], _ rng: inout SplitMix64) -> Command {
        precondition(!commands.isEmpty, "no keyed command to conflict with")
        return Self.conflicting(with: rng.pick(Array(commands.suffix(recent))), users: users, actions: actions, &rng)
    }

    /// `command` with the same idempotency key and one thing changed: an amount, the user (one
    /// of `users` other than its own), a text, a kind, a position, an action (one of `actions`),
    /// or another method under the same key. A credit or spend stays a credit or spend, so a
    /// generator of those alone gets only those back.
    public static func conflicting(with command: Command, users: [String], actions: [String] = [], _ rng: inout SplitMix64) -> Command {
        let others = users.filter { !$0.utf8.elementsEqual(command.userID.utf8) }
        let roll = Int.random(in: 0..<5, using: &rng)
        switch command {
        case .credit(var c):
            switch roll {
            case 0: c.amount = c.amount == .max ? 1 : c.amount + 1
            case 1 where !others.isEmpty: c.userID = rng.pick(others)
            case 2: c.memo += "!"
            case 3: c.kind = c.kind == .grant ? .refund : .grant
            default:
                return .spend(Spend(userID: c.userID, amount: c.amount, reference: c.reference, memo: c.memo, idempotencyKey: c.idempotencyKey))
            }
            return .credit(c)
        case .spend(var s):
            switch roll {
            case 0: s.amount = s.amount == .max ? 1 : s.amount + 1
            case 1 where !others.isEmpty: s.userID = rng.pick(others)
            case 2: s.reference += "?"
            default:
                return .credit(Credit(
                    userID: s.userID, amount: s.amount, kind: rng.pick(CreditKind.allCases), reference: s.reference, memo: s.memo,
                    idempotencyKey: s.idempotencyKey))
            }
            return .spend(s)
        case .consume(var c):
            if roll == 1, !others.isEmpty { c.userID = rng.pick(others) } else { c.tokens = c.tokens == .max ? 1 : c.tokens + 1 }
            return .consume(c)
        case .reserve(var r):
            if roll < 2 { r.ttlMilliseconds = r.ttlMilliseconds == 0 ? 1_000 : 0 } else { r.tokens = r.tokens == .max ? 1 : r.tokens + 1 }
            return .reserve(r)
        case .settle(var s):
            s.tokens = s.tokens == .max ? 0 : s.tokens + 1
            return .settle(s)
        case .release(var r):
            if roll < 3 { return .settle(Settle(reservationID: r.reservationID, tokens: 0, idempotencyKey: r.idempotencyKey)) }
            r.reservationID &+= 1
            return .release(r)
        case .commit(var c):
            if roll < 3 { c.position = c.position == .yes ? .no : .yes } else { c.stake = c.stake == .max ? 1 : c.stake + 1 }
            return .commit(c)
        case .spendAction(var s):
            let otherActions = actions.filter { !$0.utf8.elementsEqual(s.action.utf8) }
            if roll < 3, !otherActions.isEmpty {
                s.action = rng.pick(otherActions)
                return .spendAction(s)
            }
            return .spend(Spend(userID: s.userID, amount: 1, reference: s.reference, memo: s.memo, idempotencyKey: s.idempotencyKey))
        default:
            return command  // no key, nothing to conflict with
        }
    }
}
