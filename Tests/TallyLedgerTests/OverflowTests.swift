import Testing
import TallyLedger

/// Amounts near Int64.max: refused with OUT_OF_RANGE / AMOUNT_OVERFLOW instead of trapping or wrapping.
@Suite struct OverflowTests {
    @Test func userBalanceOverflow() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", Int64.max), at: t0)
        let refusal = try refuseWithoutChange(&ledger, credit("alice", 1), at: t0 + 1, code: .outOfRange, reason: "AMOUNT_OVERFLOW")
        #expect(refusal.details == ["account": "user", "amount": "1"])
        #expect(ledger.balance(of: "alice").account.available == Int64.max)
        #expect(ledger.mint == -Int64.max)
        // Also from a partial balance.
        var other = Ledger()
        try accept(&other, credit("bob", Int64.max - 5), at: t0)
        try refuseWithoutChange(&other, credit("bob", 6), at: t0 + 1, code: .outOfRange, reason: "AMOUNT_OVERFLOW")
        try accept(&other, credit("bob", 5), at: t0 + 2)
        #expect(other.balance(of: "bob").account.available == Int64.max)
        expectInvariants(other)
    }

    @Test func refusedOverflowWithKeyIsRememberedButMovesNoTokens() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", Int64.max), at: t0)
        let before = ledger
        let applied = ledger.apply(credit("alice", 1, key: "K"), at: t0 + 1)
        #expect(applied.refusal?.reason == "AMOUNT_OVERFLOW")
        #expect(applied.changedState)  // the refusal is remembered under K
        #expect(ledger.accounts == before.accounts)
        #expect(ledger.transactions == before.transactions)
        #expect(ledger.mint == before.mint)
        #expect(ledger.idempotency.records["K"]?.outcome == applied.outcome)
        expectInvariants(ledger)
    }

    @Test("the mint issues at most Int64.max tokens in total: across users it refuses before wrapping")
    func mintOverflowAcrossUsers() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", Int64.max), at: t0)
        // bob's own balance (0 + 1) is fine; the total issued (Int64.max + 1) is not.
        let refusal = try refuseWithoutChange(&ledger, credit("bob", 1), at: t0 + 1, code: .outOfRange, reason: "AMOUNT_OVERFLOW")
        #expect(refusal.details == ["account": "mint", "amount": "1"])
        #expect(ledger.accounts["bob"] == nil, "a refused credit created an account")
        #expect(ledger.mint == -Int64.max)

        // Two halves of 2^62 each: fine for either user, 2^63 in total is one too many.
        var halves = Ledger()
        try accept(&halves, credit("alice", Int64.max / 2 + 1), at: t0)
        let refusal2 = try refuseWithoutChange(
            &halves, credit("bob", Int64.max / 2 + 1), at: t0 + 1, code: .outOfRange, reason: "AMOUNT_OVERFLOW")
        #expect(refusal2.details == ["account": "mint", "amount": String(Int64.max / 2 + 1)])
        // One token less fits exactly; after that nobody can be credited.
        try accept(&halves, credit("bob", Int64.max / 2), at: t0 + 2)
        #expect(halves.mint == -Int64.max)
        try refuseWithoutChange(&halves, credit("carol", 1), at: t0 + 3, code: .outOfRange, reason: "AMOUNT_OVERFLOW")
        try refuseWithoutChange(&halves, credit("alice", 1), at: t0 + 4, code: .outOfRange, reason: "AMOUNT_OVERFLOW")
        #expect(halves.balance(of: "alice").account.available == Int64.max / 2 + 1)
        #expect(halves.balance(of: "bob").account.available == Int64.max / 2)
        expectInvariants(halves)
    }

    @Test("a user whose lifetime earnings reached Int64.max can receive no more credits")
    func totalEarnedOverflow() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", Int64.max), at: t0)
        try accept(&ledger, spend("alice", Int64.max), at: t0 + 1)
        #expect(ledger.balance(of: "alice").account.available == 0)
        #expect(ledger.burn == Int64.max)
        // available would be 1, but totalEarned would pass Int64.max.
        let refusal = try refuseWithoutChange(&ledger, credit("alice", 1), at: t0 + 2, code: .outOfRange, reason: "AMOUNT_OVERFLOW")
        #expect(refusal.details == ["account": "user", "amount": "1"])
        expectInvariants(ledger)
    }

    @Test("huge spends within the balance are fine")
    func hugeSpend() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", Int64.max), at: t0)
        try accept(&ledger, spend("alice", Int64.max - 1), at: t0 + 1)
        try accept(&ledger, spend("alice", 1), at: t0 + 2)
        #expect(ledger.balance(of: "alice").account.totalSpent == Int64.max)
        #expect(ledger.burn == Int64.max)
        let refusal = try refuseWithoutChange(
            &ledger, spend("alice", Int64.max), at: t0 + 3, code: .failedPrecondition, reason: "INSUFFICIENT_TOKENS")
        #expect(refusal.details["shortfall"] == String(Int64.max))
        expectInvariants(ledger)
    }

    /// Burn can absorb everything the mint can issue: with Int64.max tokens spread over two
    /// users, every one of them can be spent.
    @Test("every token a user holds can be spent")
    func lastTokenIsSpendable() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("alice", Int64.max - 1), at: t0)
        try accept(&ledger, credit("bob", 1), at: t0 + 1)
        #expect(ledger.mint == -Int64.max)
        try accept(&ledger, spend("alice", Int64.max - 1), at: t0 + 2)
        try accept(&ledger, spend("bob", 1), at: t0 + 3)
        #expect(ledger.burn == Int64.max)
        #expect(ledger.balance(of: "alice").account.available == 0)
        #expect(ledger.balance(of: "bob").account.available == 0)
        expectInvariants(ledger)
    }
}
