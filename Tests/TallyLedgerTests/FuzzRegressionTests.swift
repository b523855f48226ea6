import Testing
import TallyLedger

/// Inputs found by the libFuzzer targets in Fuzz/ (Scripts/fuzz.sh), kept as plain tests.
@Suite struct LedgerFuzzRegressionTests {
    /// FuzzLedger, first minute: a command with an idempotency key stamped Int64.max. Its record's
    /// expiry saturates at Int64.max, the stamp itself, and invariantViolations() called that
    /// "expires before it was seen", so recovery would have refused the Ledger that apply made.
    @Test(arguments: [Int64(1), 2, Microseconds.perHour, 24 * Microseconds.perHour])
    func keyedCommandStampedInt64Max(ttl: Int64) throws {
        var ledger = Ledger(config: LedgerConfig(idempotencyTTL: ttl))
        try accept(&ledger, credit("alice", 100, key: "k1"), at: Int64.max - 3 * ttl)
        expectInvariants(ledger)
        try accept(&ledger, spend("alice", 30, key: "k2"), at: Int64.max)
        #expect(ledger.idempotency.records[ExactString("k2")]?.expiresAt == Int64.max)
        expectInvariants(ledger)
    }

    /// The same stamp, with a refusal remembered under the key: no tokens move, and the record
    /// still passes the invariants.
    @Test func refusalStampedInt64MaxIsRememberedConsistently() {
        var ledger = Ledger()
        let applied = ledger.apply(spend("bob", 5, key: "k"), at: Int64.max)
        #expect(applied.refusal?.reason == "INSUFFICIENT_TOKENS")
        #expect(applied.changedState)
        #expect(ledger.transactions.isEmpty && ledger.mint == 0 && ledger.burn == 0)
        expectInvariants(ledger)
    }
}
