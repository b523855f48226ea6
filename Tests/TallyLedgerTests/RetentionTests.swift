import Testing
import TallyLedger

/// Retention in the pure Ledger: the oldest transactions beyond each user's newest N can leave
/// memory; what they moved stays counted, so invariants and reconciliation still hold, and
/// archive batches apply in order.
@Suite struct RetentionTests {
    @Test func archivedTransactionsStayCounted() throws {
        var ledger = Ledger()
        var now = t0
        func apply(_ command: Command) {
            now += 1
            _ = ledger.apply(command, at: now)
        }
        for i in 1...5 { apply(credit("ann", Int64(i * 10))) }
        apply(credit("bob", 100))
        apply(spend("ann", 7))
        apply(.commit(Commit(userID: "ann", predictionID: "p", position: .yes, stake: 20, oddsMicros: 3_000_000)))
        apply(.commit(Commit(userID: "bob", predictionID: "p", position: .no, stake: 50, oddsMicros: 2_000_000)))
        apply(.settlePrediction(SettlePrediction(predictionID: "p", result: .resolve(winning: .yes))))
        apply(spend("bob", 1))
        let balances = ledger.accounts
        let due = ledger.archivable(keepPerUser: 2, limit: 100)
        #expect(due.allSatisfy { tx in ledger.transactions.values.filter { $0.userID == tx.userID && $0.id > tx.id }.count >= 2 })

        let applied = ledger.apply(.archiveTransactions(ArchiveTransactions(batch: 1, ids: due.map(\.id))), at: now + 1)
        #expect(applied.outcome == .archivedTransactions(due.count) && applied.changedState)
        #expect(ledger.accounts.mapValues(\.available) == balances.mapValues(\.available), "balances do not move")
        #expect(ledger.archived.count == UInt64(due.count) && ledger.archived.lastBatch == 1)
        #expect(Dictionary(grouping: ledger.transactions.values, by: \.userID).values.allSatisfy { $0.count == 2 })
        expectInvariants(ledger)
        #expect(ledger.reconciliation().clean && ledger.reconciliation().transactionsChecked == due.count + 4)

        // Batches apply in order only; new transactions keep working on the archived totals.
        #expect(ledger.apply(.archiveTransactions(ArchiveTransactions(batch: 3, ids: [])), at: now + 2).refusal?.reason
            == "ARCHIVE_BATCH_OUT_OF_ORDER")
        _ = ledger.apply(spend("ann", 3), at: now + 3)
        _ = ledger.apply(credit("ann", 1), at: now + 4)
        expectInvariants(ledger)
    }

    @Test func settledCommitmentsLeaveTheirPredictionsSummaryBehind() {
        var ledger = Ledger()
        _ = ledger.apply(credit("ann", 100), at: t0)
        _ = ledger.apply(.commit(Commit(userID: "ann", predictionID: "p", position: .yes, stake: 10, oddsMicros: 2_000_000)), at: t0 + 1)
        _ = ledger.apply(.commit(Commit(userID: "ann", predictionID: "q", position: .yes, stake: 10, oddsMicros: 2_000_000)), at: t0 + 2)
        _ = ledger.apply(.settlePrediction(SettlePrediction(predictionID: "p", result: .resolve(winning: .no))), at: t0 + 3)
        #expect(ledger.archivableCommitments(settledBefore: t0 + 3, limit: 10).isEmpty, "settled at t0 + 3: not before it")
        let due = ledger.archivableCommitments(settledBefore: t0 + 4, limit: 10)
        #expect(due.map(\.predictionID) == ["p"], "q's is still active")
        let summary = ledger.predictions["p"]?.summary
        let applied = ledger.apply(.archiveCommitments(ArchiveCommitments(batch: 1, ids: due.map(\.id))), at: t0 + 5)
        #expect(applied.outcome == .archivedCommitments(1))
        #expect(ledger.commitments.count == 1 && ledger.predictions["p"]?.commitmentIDs == [] && ledger.predictions["p"]?.summary == summary)
        #expect(ledger.archived.commitments == 1 && ledger.archived.lastCommitmentBatch == 1)
        expectInvariants(ledger)
        #expect(ledger.apply(.archiveCommitments(ArchiveCommitments(batch: 1, ids: [])), at: t0 + 6).refusal?.reason == "ARCHIVE_BATCH_OUT_OF_ORDER")
    }
}
