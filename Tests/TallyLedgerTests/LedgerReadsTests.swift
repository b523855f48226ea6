import Testing
import TallyLedger

/// The reads the list and stats calls make: filters, the "ids below" cursor, and totals.
@Suite struct LedgerReadsTests {
    @Test func historyFiltersByUserTypeAndTimeNewestFirst() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("a", 100), at: t0)
        try accept(&ledger, credit("b", 50), at: t0 + second)
        try accept(&ledger, spend("a", 10), at: t0 + 2 * second)
        try accept(&ledger, spend("a", 20), at: t0 + 3 * second)

        let mine = ledger.transactions(matching: TransactionFilter(userID: "a"), limit: 10)
        #expect(mine.map(\.amount) == [20, 10, 100])
        let spends = ledger.transactions(matching: TransactionFilter(userID: "a", types: [.spend]), limit: 10)
        #expect(spends.map(\.amount) == [20, 10])
        // since ≤ createdAt < until.
        let window = ledger.transactions(matching: TransactionFilter(since: t0 + second, until: t0 + 3 * second), limit: 10)
        #expect(window.map(\.amount) == [10, 50])
        // The cursor is "ids below this": the next page starts after the last one shown.
        let first = ledger.transactions(matching: TransactionFilter(userID: "a"), limit: 2)
        let next = ledger.transactions(matching: TransactionFilter(userID: "a"), beforeID: first.last!.id, limit: 2)
        #expect(first.map(\.amount) == [20, 10] && next.map(\.amount) == [100])
        #expect(ledger.transactions(matching: TransactionFilter(userID: "nobody"), limit: 10).isEmpty)
    }

    @Test func statsCountWhatTheLedgerHolds() throws {
        var ledger = Ledger()
        try accept(&ledger, credit("a", 100, kind: .refund), at: t0)
        try accept(&ledger, credit("b", 40, kind: .grant), at: t0 + second)
        try accept(&ledger, spend("a", 30), at: t0 + 2 * second)
        let stats = ledger.stats(revenueDays: 30, now: t0 + 3 * second)
        #expect(stats.users == 2)
        #expect(stats.tokensHeld == 110 && stats.tokensCommitted == 0)
        #expect(stats.tokensMinted == 140 && stats.tokensBurned == 30)
        #expect(stats.transactions == 3)
        #expect(stats.volume.map(\.type) == stats.volume.map(\.type).sorted { $0.rawValue < $1.rawValue })
        let byType = Dictionary(uniqueKeysWithValues: stats.volume.map { ($0.type, ($0.transactions, $0.tokens)) })
        #expect(byType[.refund]?.0 == 1 && byType[.refund]?.1 == 100)
        #expect(byType[.grant]?.0 == 1 && byType[.spend]?.1 == 30 && byType.count == 3)
        // No purchase was completed through Purchases: no revenue.
        #expect(stats.revenueByDay.isEmpty && stats.revenueByMonth.isEmpty)
    }
}
