import HashTreeCollections
import Testing
import TallyLedger

/// Reconciliation: a healthy ledger's balances all agree with history; a damaged one (built from
/// parts, as a bad snapshot would be) is reported field by field, and repair writes the
/// transactions history is missing without moving the balance the user was shown.
@Suite struct ReconciliationTests {
    /// A payment credited but not recorded: ann was credited 100 but the history row of 20 of it is missing
    /// (history: a grant of 80); bob's account is fine.
    static func damaged() -> Ledger {
        var healthy = Ledger()
        _ = healthy.apply(credit("ann", 80), at: t0)
        _ = healthy.apply(credit("bob", 50), at: t0 + 1)
        _ = healthy.apply(spend("bob", 5), at: t0 + 2)
        var accounts = healthy.accounts
        accounts["ann"] = Account(available: 100, totalEarned: 100, version: 2, createdAt: t0, updatedAt: t0)
        return Ledger(
            config: healthy.config, accounts: accounts, transactions: healthy.transactions, idempotency: healthy.idempotency,
            mint: healthy.mint - 20, burn: healthy.burn, nextTransactionID: healthy.nextTransactionID, lastTimestamp: t0 + 2)
    }

    @Test func aHealthyLedgerReconcilesClean() {
        var ledger = Ledger()
        _ = ledger.apply(credit("ann", 80), at: t0)
        _ = ledger.apply(.commit(Commit(userID: "ann", predictionID: "p", position: .yes, stake: 30, oddsMicros: 2_500_000)), at: t0 + 1)
        _ = ledger.apply(.commit(Commit(userID: "ann", predictionID: "q", position: .no, stake: 10, oddsMicros: 1_000_000)), at: t0 + 2)
        _ = ledger.apply(.settlePrediction(SettlePrediction(predictionID: "p", result: .resolve(winning: .yes))), at: t0 + 3)
        _ = ledger.apply(.settlePrediction(SettlePrediction(predictionID: "q", result: .resolve(winning: .yes))), at: t0 + 4)
        _ = ledger.apply(spend("ann", 7), at: t0 + 5)
        let report = ledger.reconciliation()
        #expect(report.clean && report.accountsChecked == 1 && report.transactionsChecked == 6, "\(report.mismatches)")
        let before = ledger
        let applied = ledger.apply(.reconcile(repair: true), at: t0 + 6)
        #expect(!applied.changedState && ledger == before, "nothing to repair changes nothing")
    }

    @Test func aMissingCreditIsReportedAndRepairedWithoutMovingTheBalance() throws {
        var ledger = Self.damaged()
        #expect(!ledger.invariantViolations().isEmpty)
        let report = ledger.reconciliation()
        #expect(report.mismatches.map { "\($0.account) \($0.field) \($0.stored) \($0.fromHistory)" } == [
            "ann available 100 80", "ann total_earned 100 80", "ann version 2 1", "mint balance -150 -130",
        ])
        let applied = ledger.apply(.reconcile(repair: true), at: t0 + 10)
        guard case .reconciled(let repaired) = applied.outcome else { Issue.record("\(applied.outcome)"); return }
        #expect(applied.changedState && repaired.unrepairable.isEmpty)
        let fix = try #require(repaired.repairs.first)
        #expect(repaired.repairs.count == 1 && fix.type == .adjustment && fix.amount == 20 && fix.userID == "ann")
        #expect(fix.balanceBefore == 80 && fix.balanceAfter == 100 && fix.reference == "reconciliation")
        #expect(ledger.balance(of: "ann").account.available == 100, "the balance ann was shown stands")
        #expect(ledger.reconciliation().clean && ledger.invariantViolations().isEmpty)
    }

    @Test func whatATransactionCannotExplainIsLeftForAnOperator() {
        var ledger = Self.damaged()
        var accounts = ledger.accounts
        accounts["bob"] = Account(available: 60, totalEarned: 50, totalSpent: 5, version: 2, createdAt: t0, updatedAt: t0)
        ledger = Ledger(
            config: ledger.config, accounts: accounts, transactions: ledger.transactions, idempotency: ledger.idempotency,
            mint: ledger.mint, burn: ledger.burn, nextTransactionID: ledger.nextTransactionID, lastTimestamp: ledger.lastTimestamp)
        guard case .reconciled(let report) = ledger.apply(.reconcile(repair: true), at: t0 + 10).outcome else {
            Issue.record("not reconciled")
            return
        }
        #expect(report.unrepairable == ["bob"], "bob holds 60 of 50 - 5: no missing credit or spend explains it")
        #expect(ledger.balance(of: "bob").account.available == 60 && report.repairs.map(\.userID) == ["ann"])
    }
}
