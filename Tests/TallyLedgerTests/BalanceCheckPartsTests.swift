import Testing

@testable import TallyLedger

/// The balance check split by user (recovery runs the parts on threads) finds exactly what the
/// whole check finds, on a sound state and on a broken one, for any number of parts.
struct BalanceCheckPartsTests {
    func split(_ ledger: Ledger, into parts: Int) -> [String] {
        ledger.balanceViolations(combining: (0..<parts).map { ledger.balanceCheck(part: $0, of: parts) })
    }

    @Test func thePartsFindWhatTheWholeFinds() throws {
        var ledger = Ledger()
        var now = t0
        for i in 0..<300 {
            now += 1
            _ = ledger.apply(credit("user-\(i)", Int64(10 + i)), at: now)
            if i % 3 == 0 {
                now += 1
                _ = ledger.apply(spend("user-\(i)", 5), at: now)
            }
        }
        #expect(ledger.balanceViolations().isEmpty)
        for parts in 1...3 { #expect(split(ledger, into: parts).isEmpty) }

        // Broken three ways: an account that disagrees with its history, a transaction of a
        // user without an account, and tokens from nowhere in the double entry.
        var broken = ledger
        broken.accounts[ExactString("user-7")]!.totalEarned += 1
        broken.accounts[ExactString("user-7")]!.available += 1
        let stray = Transaction(
            id: broken.nextTransactionID, userID: "ghost", type: .grant, amount: 3, balanceBefore: 0, balanceAfter: 3,
            reference: "", memo: "", idempotencyKey: "", createdAt: now)
        broken.transactions[stray.id] = stray
        broken.nextTransactionID += 1
        let whole = broken.balanceViolations()
        #expect(whole.count >= 3, "\(whole)")
        #expect(whole.contains { $0.contains("ghost") } && whole.contains { $0.hasPrefix("user-7:") } && whole.contains { $0.hasPrefix("double entry") })
        for parts in 1...3 { #expect(split(broken, into: parts).sorted() == whole.sorted(), "\(parts) parts") }
    }
}
