import Testing
import TallyLedger
import TallyTestSupport

/// Predictions in the pure Ledger: stakes move from available to committed, resolution pays
/// winners and collects losers' stakes for the house, void and cancel give stakes back, each
/// settles once, and double entry (users + mint + burn + house = 0) holds throughout.
@Suite struct PredictionTests {
    func commit(_ user: String, _ prediction: String, _ position: Commitment.Position?, _ stake: Int64, odds: Int64 = 2_000_000, key: String = "")
        -> Command
    {
        .commit(Commit(userID: user, predictionID: prediction, position: position, stake: stake, oddsMicros: odds, idempotencyKey: key))
    }

    func commitment(_ applied: Applied) -> CommitmentReceipt? {
        guard case .commitment(let receipt) = applied.outcome else { return nil }
        return receipt
    }

    func summary(_ applied: Applied) -> PredictionSummary? {
        guard case .predictionSettled(let summary, _) = applied.outcome else { return nil }
        return summary
    }

    func funded() -> Ledger {
        var ledger = Ledger()
        for user in ["ann", "ben", "cat"] { _ = ledger.apply(credit(user, 1_000), at: t0) }
        return ledger
    }

    @Test func commitMovesTheStakeToCommittedWithItsPotentialWinning() throws {
        var ledger = funded()
        let applied = ledger.apply(commit("ann", "rain", .yes, 300, odds: 2_500_000), at: t0 + 1)
        let receipt = try #require(commitment(applied))
        #expect(receipt.commitment.potentialWinning == 750 && receipt.commitment.status == .active)
        #expect(receipt.receipt.transaction.type == .commit && receipt.receipt.transaction.amount == 300)
        #expect(receipt.receipt.transaction.committedBefore == 0 && receipt.receipt.transaction.committedAfter == 300)
        let account = ledger.balance(of: "ann").account
        #expect(account.available == 700 && account.committed == 300 && account.totalEarned == 1_000 && account.totalSpent == 0)
        // Rounding: floor, toward the house.
        #expect(Commitment.potentialWinning(stake: 3, oddsMicros: 1_333_333) == 3)
        #expect(Commitment.potentialWinning(stake: 1_000_000, oddsMicros: 1_333_333) == 1_333_333)
        expectInvariants(ledger)
    }

    @Test func resolvePaysWinnersCollectsLosersOnceAndRefusesLateCommits() throws {
        var ledger = funded()
        _ = ledger.apply(commit("ann", "rain", .yes, 300, odds: 2_500_000), at: t0 + 1)
        _ = ledger.apply(commit("ben", "rain", .no, 200, odds: 1_500_000), at: t0 + 2)
        _ = ledger.apply(commit("cat", "rain", .yes, 100), at: t0 + 3)
        let cancelled = ledger.apply(.cancelCommitment(id: 3), at: t0 + 4)
        #expect(commitment(cancelled)?.commitment.status == .refunded && ledger.balance(of: "cat").account.available == 1_000)
        #expect(ledger.apply(.cancelCommitment(id: 3), at: t0 + 5).refusal?.reason == "COMMITMENT_NOT_ACTIVE")

        let resolve = Command.settlePrediction(SettlePrediction(predictionID: "rain", result: .resolve(winning: .yes)))
        let resolved = ledger.apply(resolve, at: t0 + 10)
        let result = try #require(summary(resolved))
        #expect(result.winners == 1 && result.losers == 1 && result.tokensPaid == 750 && result.tokensCollected == 200 && !resolved.replayed)
        let ann = ledger.balance(of: "ann").account, ben = ledger.balance(of: "ben").account
        #expect(ann.available == 1_450 && ann.committed == 0 && ann.totalEarned == 1_450)
        #expect(ben.available == 800 && ben.committed == 0 && ben.totalSpent == 200)
        #expect(ledger.house == 200 - 450, "the house collected 200 and paid a profit of 450")
        #expect(ledger.commitments[1]?.status == .won && ledger.commitments[2]?.status == .lost && ledger.commitments[1]?.settledAt == t0 + 10)

        // Asked again: the same summary, nothing changes; a different question is refused.
        let before = ledger
        let again = ledger.apply(resolve, at: t0 + 11)
        #expect(again.replayed && summary(again) == result && ledger == before)
        let flip = ledger.apply(.settlePrediction(SettlePrediction(predictionID: "rain", result: .resolve(winning: .no))), at: t0 + 12)
        #expect(flip.refusal?.reason == "PREDICTION_SETTLED")
        #expect(ledger.apply(.settlePrediction(SettlePrediction(predictionID: "rain", result: .void)), at: t0 + 13).refusal?.reason == "PREDICTION_SETTLED")
        #expect(ledger.apply(commit("ann", "rain", .yes, 1), at: t0 + 14).refusal?.reason == "PREDICTION_SETTLED")
        expectInvariants(ledger)
    }

    @Test func voidRefundsEveryActiveStake() throws {
        var ledger = funded()
        _ = ledger.apply(commit("ann", "match", .yes, 100), at: t0 + 1)
        _ = ledger.apply(commit("ben", "match", .no, 400), at: t0 + 2)
        let voided = ledger.apply(.settlePrediction(SettlePrediction(predictionID: "match", result: .void)), at: t0 + 3)
        let result = try #require(summary(voided))
        #expect(result.status == .voided && result.refunded == 2 && result.tokensRefunded == 500 && result.winning == nil)
        #expect(ledger.balance(of: "ann").account.available == 1_000 && ledger.balance(of: "ben").account.available == 1_000)
        #expect(ledger.house == 0 && ledger.commitments.values.allSatisfy { $0.status == .refunded })
        expectInvariants(ledger)
    }

    @Test func refusalsChangeNothing() {
        var ledger = funded()
        _ = ledger.apply(.closePrediction(id: "closed", at: t0 + 5), at: t0 + 1)
        let cases: [(Command, String)] = [
            (commit("ann", "p", .yes, 1_001), "INSUFFICIENT_TOKENS"),
            (commit("ann", "p", nil, 10), "POSITION_MISSING"),
            (commit("ann", "p", .yes, 0), "AMOUNT_NOT_POSITIVE"),
            (commit("ann", "p", .yes, 10, odds: 999_999), "ODDS_OUT_OF_RANGE"),
            (commit("ann", "", .yes, 10), "PREDICTION_ID_EMPTY"),
            (commit("ann", "closed", .yes, 10), "PREDICTION_CLOSED"),
            (.settlePrediction(SettlePrediction(predictionID: "nope", result: .void)), "PREDICTION_NOT_FOUND"),
            (.settlePrediction(SettlePrediction(predictionID: "closed", result: .resolve(winning: nil))), "POSITION_MISSING"),
            (.cancelCommitment(id: 99), "COMMITMENT_NOT_FOUND"),
        ]
        for (command, reason) in cases {
            let before = ledger
            let applied = ledger.apply(command, at: t0 + 10)
            #expect(applied.refusal?.reason == reason && ledger == before, "\(command)")
        }
        expectInvariants(ledger)
    }

    @Test func aKeyedCommitRetriedCommitsOnce() {
        var ledger = funded()
        let first = ledger.apply(commit("ann", "p", .yes, 100, key: "c-1"), at: t0 + 1)
        let second = ledger.apply(commit("ann", "p", .yes, 100, key: "c-1"), at: t0 + 2)
        #expect(second.replayed && second.outcome == first.outcome && ledger.balance(of: "ann").account.committed == 100)
        #expect(ledger.apply(commit("ann", "p", .no, 100, key: "c-1"), at: t0 + 3).refusal?.reason == "IDEMPOTENCY_KEY_CONFLICT")
        expectInvariants(ledger)
    }

    /// Random commits, cancels, resolutions and voids over a few predictions (fixed seeds):
    /// invariants after every step, and every settled prediction's summary adds up.
    @Test(arguments: [UInt64(7), 42, 0xBEEF]) func invariantsHoldForRandomTraffic(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var ledger = funded()
        var now = t0
        for step in 0..<600 {
            now += 1
            let user = random.pick(["ann", "ben", "cat"])
            let prediction = "p\(Int.random(in: 0..<6, using: &random))"
            let command: Command
            switch Int.random(in: 0..<10, using: &random) {
            case 0...4:
                command = commit(user, prediction, random.pick([Commitment.Position.yes, .no]), Int64.random(in: 1...150, using: &random),
                                 odds: Int64.random(in: 1_000_000...5_000_000, using: &random))
            case 5: command = .cancelCommitment(id: UInt64.random(in: 1...max(1, ledger.nextCommitmentID), using: &random))
            case 6: command = credit(user, Int64.random(in: 1...300, using: &random))
            case 7, 8: command = .settlePrediction(SettlePrediction(predictionID: prediction, result: .resolve(winning: random.pick([Commitment.Position.yes, .no]))))
            default: command = .settlePrediction(SettlePrediction(predictionID: prediction, result: .void))
            }
            _ = ledger.apply(command, at: now)
            let violations = ledger.invariantViolations()
            #expect(violations.isEmpty, "seed \(seed) step \(step) \(command): \(violations)")
            if !violations.isEmpty { return }
        }
        for prediction in ledger.predictions.values {
            guard let summary = prediction.summary else { continue }
            let settled = prediction.commitmentIDs.compactMap { ledger.commitments[$0] }.filter { $0.settledAt == summary.settledAt }
            #expect(Int64(settled.filter { $0.status == .won }.count) == summary.winners, "seed \(seed)")
            #expect(settled.filter { $0.status == .won }.map(\.potentialWinning).reduce(0, +) == summary.tokensPaid, "seed \(seed)")
            #expect(settled.filter { $0.status == .lost }.map(\.stake).reduce(0, +) == summary.tokensCollected, "seed \(seed)")
        }
    }
}
