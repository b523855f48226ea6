import Testing
import TallyLedger

/// Determinism: the same commands at the same times rebuild the same ledger, also from a
/// journal of only the state-changing commands and from a snapshot taken part-way.
@Suite struct ReplayTests {
    static let steps = 1_500

    @Test("replaying the same commands gives equal ledgers and equal answers", arguments: UInt64(101)...105)
    func replay(seed: UInt64) {
        let (ttl, commands) = CommandGenerator.trace(seed: seed, steps: Self.steps)
        var first = Ledger(config: LedgerConfig(idempotencyTTL: ttl))
        var second = Ledger(config: LedgerConfig(idempotencyTTL: ttl))
        for (i, (command, now)) in commands.enumerated() {
            let a = first.apply(command, at: now)
            let b = second.apply(command, at: now)
            guard a == b else {
                Issue.record("seed \(seed) step \(i): answers differ: \(a) vs \(b)")
                return
            }
        }
        #expect(first == second, "seed \(seed)")
        #expect(first.transactions.count > 100, "seed \(seed): the trace did too little to prove anything")
        #expect(first != Ledger(config: LedgerConfig(idempotencyTTL: ttl)), "seed \(seed)")
    }

    @Test("replaying only the commands that changed state rebuilds the same ledger", arguments: UInt64(201)...205)
    func journal(seed: UInt64) {
        let (ttl, commands) = CommandGenerator.trace(seed: seed, steps: Self.steps)
        var live = Ledger(config: LedgerConfig(idempotencyTTL: ttl))
        var journal: [(Command, Timestamp)] = []
        for (command, now) in commands where live.apply(command, at: now).changedState {
            journal.append((command, now))
        }
        #expect(journal.count < commands.count, "seed \(seed): every command changed state; the test proves little")
        var rebuilt = Ledger(config: LedgerConfig(idempotencyTTL: ttl))
        for (i, (command, now)) in journal.enumerated() {
            guard rebuilt.apply(command, at: now).changedState else {
                Issue.record("seed \(seed) journal entry \(i): \(command) at \(now) changed nothing on replay")
                return
            }
        }
        #expect(rebuilt == live, "seed \(seed)")
        #expect(rebuilt.invariantViolations() == [], "seed \(seed)")
    }

    @Test("a ledger rebuilt from its parts continues exactly like the original", arguments: UInt64(301)...305)
    func snapshot(seed: UInt64) {
        let (ttl, commands) = CommandGenerator.trace(seed: seed, steps: Self.steps)
        var original = Ledger(config: LedgerConfig(idempotencyTTL: ttl))
        var restored: Ledger?
        for (i, (command, now)) in commands.enumerated() {
            if i % 500 == 250 {
                // Take a snapshot the way recovery would: plain parts, expiry index rebuilt.
                let records = Dictionary(uniqueKeysWithValues: original.idempotency.records.map { ($0.key, $0.value) })
                let copy = Ledger(
                    config: original.config, accounts: original.accounts, transactions: original.transactions,
                    idempotency: IdempotencyTable(records: records), mint: original.mint, burn: original.burn,
                    nextTransactionID: original.nextTransactionID, lastTimestamp: original.lastTimestamp)
                #expect(copy == original, "seed \(seed) step \(i)")
                #expect(copy.invariantViolations() == [], "seed \(seed) step \(i)")
                restored = copy
            }
            let a = original.apply(command, at: now)
            if var r = restored {
                let b = r.apply(command, at: now)
                restored = r
                guard a == b, r == original else {
                    Issue.record("seed \(seed) step \(i): restored ledger diverged: \(a) vs \(b)")
                    return
                }
            }
        }
        #expect(restored == original, "seed \(seed)")
    }
}
