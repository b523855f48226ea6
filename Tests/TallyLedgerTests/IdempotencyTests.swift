import Testing
import TallyLedger

/// Idempotency keys: retries replay the first answer, conflicts are refused, records expire.
@Suite struct IdempotencyTests {
    static let ttl: Int64 = 1_000_000
    static let shortTTL = LedgerConfig(idempotencyTTL: ttl)

    @Test(arguments: [credit("alice", 100, kind: .purchase, reference: "o-1", memo: "m", key: "K"), spend("alice", 30, key: "K")])
    func sameKeySameRequestReplays(command: Command) throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", 50), at: t0)
        let first = ledger.apply(command, at: t0 + 1)
        let receipt = try #require(first.receipt)
        #expect(first.replayed == false)
        let before = ledger
        for retry in 2...4 {
            let again = ledger.apply(command, at: t0 + Int64(retry))
            #expect(again.outcome == first.outcome)
            #expect(again.receipt?.transaction.id == receipt.transaction.id)
            #expect(again.replayed)
            #expect(again.changedState == false)
        }
        #expect(ledger == before)
        #expect(ledger.transactions.count == 2)
        #expect(ledger.balance(of: "alice") == receipt.balance)
        expectInvariants(ledger)
    }

    @Test func recordHoldsCommandTimesAndOutcome() throws {
        var ledger = Ledger(config: Self.shortTTL)
        let command = credit("alice", 100, key: "K")
        let applied = ledger.apply(command, at: t0)
        let record = try #require(ledger.idempotency.records["K"])
        #expect(record == IdempotencyRecord(command: command, firstSeenAt: t0, expiresAt: t0 + Self.ttl, outcome: applied.outcome))
        #expect(ledger.idempotency.record(for: "K", at: t0 + Self.ttl - 1) == record)
        #expect(ledger.idempotency.record(for: "K", at: t0 + Self.ttl) == nil)
    }

    struct Conflict: Sendable, CustomTestStringConvertible {
        var name: String
        var original: Command
        var retry: Command
        var testDescription: String { name }
    }

    static let conflicts: [Conflict] = {
        let original = credit("alice", 100, kind: .purchase, reference: "order-1", memo: "m", key: "K")
        let originalSpend = spend("alice", 10, reference: "r", memo: "m", key: "K")
        return [
            Conflict(name: "different amount", original: original, retry: credit("alice", 101, kind: .purchase, reference: "order-1", memo: "m", key: "K")),
            Conflict(name: "different user", original: original, retry: credit("bob", 100, kind: .purchase, reference: "order-1", memo: "m", key: "K")),
            Conflict(name: "different kind", original: original, retry: credit("alice", 100, kind: .grant, reference: "order-1", memo: "m", key: "K")),
            Conflict(name: "different reference", original: original, retry: credit("alice", 100, kind: .purchase, reference: "order-2", memo: "m", key: "K")),
            Conflict(name: "different memo", original: original, retry: credit("alice", 100, kind: .purchase, reference: "order-1", memo: "", key: "K")),
            Conflict(name: "credit then spend", original: original, retry: spend("alice", 100, reference: "order-1", memo: "m", key: "K")),
            Conflict(name: "spend then credit", original: originalSpend, retry: credit("alice", 10, kind: .grant, reference: "r", memo: "m", key: "K")),
            Conflict(name: "spend different amount", original: originalSpend, retry: spend("alice", 11, reference: "r", memo: "m", key: "K")),
        ]
    }()

    @Test("same key, different request: IDEMPOTENCY_KEY_CONFLICT and nothing changes", arguments: conflicts)
    func conflict(_ c: Conflict) throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", 500), at: t0)
        try accept(&ledger, c.original, at: t0 + 1)
        let refusal = try refuseWithoutChange(&ledger, c.retry, at: t0 + 2, code: .alreadyExists, reason: "IDEMPOTENCY_KEY_CONFLICT")
        #expect(refusal.details == ["idempotency_key": "K"])
        #expect(refusal.message.contains("K"))
        // The original request is still answered from the record.
        let replay = ledger.apply(c.original, at: t0 + 3)
        #expect(replay.replayed)
        #expect(replay.receipt?.transaction.id == 2)
    }

    @Test("a conflict still purges other expired records, and says so")
    func conflictPurges() throws {
        var ledger = Ledger(config: Self.shortTTL)
        try accept(&ledger, credit("alice", 1, key: "A"), at: t0)
        try accept(&ledger, credit("alice", 2, key: "B"), at: t0 + 500_000)
        let accounts = ledger.accounts, transactions = ledger.transactions
        let now = t0 + 1_200_000  // A expired, B live
        let applied = ledger.apply(credit("alice", 3, key: "B"), at: now)
        #expect(applied.refusal?.reason == "IDEMPOTENCY_KEY_CONFLICT")
        #expect(applied.changedState)
        #expect(Set(ledger.idempotency.records.keys) == ["B"])
        #expect(ledger.accounts == accounts)
        #expect(ledger.transactions == transactions)
        #expect(ledger.lastTimestamp == now)
        expectInvariants(ledger)
    }

    @Test("a refusal is remembered: the retry gets the same refusal even after the balance grew")
    func refusalRemembered() throws {
        var ledger = Ledger()
        let first = ledger.apply(spend("alice", 500, key: "K"), at: t0)
        let refusal = try #require(first.refusal)
        #expect(refusal.reason == "INSUFFICIENT_TOKENS")
        #expect(first.changedState, "remembering the refusal is a change of state")
        #expect(ledger.idempotency.records["K"]?.outcome == first.outcome)
        #expect(ledger.transactions.isEmpty)

        try accept(&ledger, credit("alice", 1_000), at: t0 + 1)
        let before = ledger
        let retry = ledger.apply(spend("alice", 500, key: "K"), at: t0 + 2)
        #expect(retry.outcome == first.outcome)
        #expect(retry.refusal?.details["available"] == "0")
        #expect(retry.replayed)
        #expect(retry.changedState == false)
        #expect(ledger == before)
        #expect(ledger.balance(of: "alice").account.available == 1_000)
        // A new key is a new request.
        try accept(&ledger, spend("alice", 500, key: "K2"), at: t0 + 3)
        #expect(ledger.balance(of: "alice").account.available == 500)
        expectInvariants(ledger)
    }

    @Test("a retry at exactly the expiry is a new request")
    func expiryBoundary() throws {
        var ledger = Ledger(config: Self.shortTTL)
        let command = credit("alice", 100, key: "K")
        let first = try accept(&ledger, command, at: t0)
        let justBefore = ledger.apply(command, at: t0 + Self.ttl - 1)
        #expect(justBefore.replayed)
        #expect(justBefore.outcome == .accepted(first))
        #expect(ledger.transactions.count == 1)

        let atExpiry = ledger.apply(command, at: t0 + Self.ttl)
        let second = try #require(atExpiry.receipt)
        #expect(atExpiry.replayed == false)
        #expect(atExpiry.changedState)
        #expect(second.transaction.id == 2)
        #expect(second.transaction.balanceBefore == 100)
        #expect(ledger.balance(of: "alice").account.available == 200)
        #expect(ledger.transactions.count == 2)
        let record = try #require(ledger.idempotency.records["K"])
        #expect(record.firstSeenAt == t0 + Self.ttl)
        #expect(record.expiresAt == t0 + 2 * Self.ttl)
        #expect(record.outcome == atExpiry.outcome)
        expectInvariants(ledger)
    }

    @Test("expired records are purged when a later command arrives")
    func purge() throws {
        var ledger = Ledger(config: Self.shortTTL)
        try accept(&ledger, credit("alice", 10, key: "K1"), at: t0)
        try accept(&ledger, credit("alice", 10, key: "K2"), at: t0 + 400_000)
        try accept(&ledger, credit("alice", 10, key: "K3"), at: t0 + 800_000)
        #expect(Set(ledger.idempotency.records.keys) == ["K1", "K2", "K3"])

        // Nothing expired yet: a refused keyless command changes nothing.
        try refuseWithoutChange(&ledger, spend("alice", 1_000), at: t0 + 999_999, code: .failedPrecondition, reason: "INSUFFICIENT_TOKENS")

        // K1 and K2 expired: even a refused keyless command purges them, and reports a change.
        let now = t0 + 1_400_000
        let applied = ledger.apply(spend("alice", 1_000), at: now)
        #expect(applied.refusal?.reason == "INSUFFICIENT_TOKENS")
        #expect(applied.changedState)
        #expect(ledger.lastTimestamp == now)
        #expect(Set(ledger.idempotency.records.keys) == ["K3"])
        #expect(ledger.transactions.count == 3)

        // A keyless accepted command purges K3 later on.
        try accept(&ledger, credit("bob", 1), at: t0 + 1_800_000)
        #expect(ledger.idempotency.records.isEmpty)
        expectInvariants(ledger)
    }

    @Test("a key reused after expiry with a different request is accepted")
    func reuseAfterExpiry() throws {
        var ledger = Ledger(config: Self.shortTTL)
        try accept(&ledger, credit("alice", 100, key: "K"), at: t0)
        try refuseWithoutChange(&ledger, spend("alice", 40, key: "K"), at: t0 + 10, code: .alreadyExists, reason: "IDEMPOTENCY_KEY_CONFLICT")
        let receipt = try accept(&ledger, spend("alice", 40, key: "K"), at: t0 + Self.ttl + 1)
        #expect(receipt.transaction.type == .spend)
        #expect(receipt.transaction.idempotencyKey == "K")
        #expect(ledger.balance(of: "alice").account.available == 60)
        let record = try #require(ledger.idempotency.records["K"])
        #expect(record.command == spend("alice", 40, key: "K"))
        #expect(record.firstSeenAt == t0 + Self.ttl + 1)
        // The old request under K is now the conflicting one.
        try refuseWithoutChange(&ledger, credit("alice", 100, key: "K"), at: t0 + Self.ttl + 2, code: .alreadyExists, reason: "IDEMPOTENCY_KEY_CONFLICT")
        // The reused key's record survives the purge of its own, older expiry entry.
        try accept(&ledger, credit("bob", 1), at: t0 + Self.ttl + 3)
        #expect(ledger.idempotency.records["K"] == record)
        expectInvariants(ledger)
    }

    @Test("a huge TTL saturates the expiry instead of overflowing")
    func saturatedExpiry() throws {
        var ledger = Ledger(config: LedgerConfig(idempotencyTTL: Int64.max))
        try accept(&ledger, credit("alice", 1, key: "K"), at: t0)
        #expect(ledger.idempotency.records["K"]?.expiresAt == Int64.max)
        let replay = ledger.apply(credit("alice", 1, key: "K"), at: Int64.max - 1)
        #expect(replay.replayed)
        expectInvariants(ledger)
    }

    @Test func defaultTTLIsAtLeastADay() throws {
        var ledger = Ledger()
        #expect(ledger.config.idempotencyTTL >= 24 * Microseconds.perHour)
        try accept(&ledger, credit("alice", 1, key: "K"), at: t0)
        let replay = ledger.apply(credit("alice", 1, key: "K"), at: t0 + 24 * Microseconds.perHour - 1)
        #expect(replay.replayed)
    }
}
