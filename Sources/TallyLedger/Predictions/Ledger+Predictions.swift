/// Predictions: a commitment moves its stake from available to committed; resolving a
/// prediction pays winners their potential winning (stake included) and gives losers' stakes to
/// the house; voiding it, or cancelling one commitment, gives stakes back. Each settles once.
extension Ledger {
    mutating func applyPrediction(_ command: Command, at now: Timestamp) -> Outcome {
        switch command {
        case .commit(let commit): return self.commit(commit, at: now)
        case .cancelCommitment(let id): return cancelCommitment(id, at: now)
        case .settlePrediction(let settle): return settlePrediction(settle, at: now)
        case .closePrediction(let id, let closesAt):
            var prediction = predictions[ExactString(id)] ?? Prediction(id: id)
            guard prediction.status == .open else { return .refused(.predictionSettled(prediction)) }
            prediction.closesAt = closesAt
            predictions[ExactString(id)] = prediction
            return .prediction(prediction)
        default: preconditionFailure("not a prediction command")
        }
    }

    private mutating func commit(_ commit: Commit, at now: Timestamp) -> Outcome {
        let key = ExactString(commit.predictionID)
        var prediction = predictions[key] ?? Prediction(id: commit.predictionID)
        guard prediction.status == .open else { return .refused(.predictionSettled(prediction)) }
        if let closesAt = prediction.closesAt, now >= closesAt {
            return .refused(Refusal(
                code: .failedPrecondition, reason: "PREDICTION_CLOSED",
                message: "prediction '\(commit.predictionID)' closed for commitments at \(utcDescription(closesAt))",
                details: ["prediction_id": commit.predictionID, "closes_at_us": String(closesAt)]))
        }
        guard let potential = Commitment.potentialWinning(stake: commit.stake, oddsMicros: commit.oddsMicros) else {
            return .refused(.overflow(.user, userID: commit.userID, amount: commit.stake))
        }
        var account = accounts[ExactString(commit.userID)] ?? Account(createdAt: now)
        guard account.available >= commit.stake else {
            return .refused(.insufficientTokens(userID: commit.userID, available: account.available, requested: commit.stake))
        }
        guard let committed = checkedAdd(account.committed, commit.stake) else {
            return .refused(.overflow(.user, userID: commit.userID, amount: commit.stake))
        }
        let before = account
        account.available -= commit.stake  // checked: stake <= available
        account.committed = committed
        let commitment = Commitment(
            id: nextCommitmentID, userID: commit.userID, predictionID: commit.predictionID, position: commit.position!,
            stake: commit.stake, oddsMicros: commit.oddsMicros, potentialWinning: potential, status: .active, createdAt: now,
            settledAt: 0)
        guard case .accepted(let receipt) = record(
            account, userID: commit.userID, type: .commit, amount: commit.stake, before: before.available,
            committedBefore: before.committed, reference: "commitment \(commitment.id) on \(commit.predictionID)",
            memo: "", key: commit.idempotencyKey, at: now)
        else { preconditionFailure("record answers a receipt") }
        nextCommitmentID += 1
        commitments[commitment.id] = commitment
        prediction.commitmentIDs.append(commitment.id)
        predictions[key] = prediction
        return .commitment(CommitmentReceipt(commitment: commitment, receipt: receipt))
    }

    private mutating func cancelCommitment(_ id: UInt64, at now: Timestamp) -> Outcome {
        guard var commitment = commitments[id] else {
            return .refused(Refusal(
                code: .notFound, reason: "COMMITMENT_NOT_FOUND", message: "no commitment \(id)", details: ["commitment_id": String(id)]))
        }
        guard commitment.status == .active else {
            return .refused(Refusal(
                code: .failedPrecondition, reason: "COMMITMENT_NOT_ACTIVE",
                message: "commitment \(id) is \(commitment.status) already; only an active one can be cancelled",
                details: ["commitment_id": String(id), "status": String(describing: commitment.status)]))
        }
        let receipt = refund(&commitment, at: now)
        return .commitment(CommitmentReceipt(commitment: commitment, receipt: receipt))
    }

    private mutating func settlePrediction(_ settle: SettlePrediction, at now: Timestamp) -> Outcome {
        guard let prediction = predictions[ExactString(settle.predictionID)] else {
            return .refused(Refusal(
                code: .notFound, reason: "PREDICTION_NOT_FOUND", message: "no prediction '\(settle.predictionID)'",
                details: ["prediction_id": settle.predictionID]))
        }
        let winning: Commitment.Position?
        switch settle.result {
        case .resolve(let position): winning = position
        case .void: winning = nil
        }
        if let summary = prediction.summary {
            // Asked again: the same question answers the same summary; another one is refused.
            let same = summary.status == (winning == nil ? .voided : .resolved) && summary.winning == winning
            return same ? .predictionSettled(summary, alreadyDone: true) : .refused(.predictionSettled(prediction))
        }
        // All or nothing: every commitment is settled on a copy, which replaces the Ledger only
        // if none of them overflows.
        var ledger = self
        var summary = PredictionSummary(
            predictionID: settle.predictionID, status: winning == nil ? .voided : .resolved, winning: winning, settledAt: now)
        for id in prediction.commitmentIDs {
            guard var commitment = ledger.commitments[id], commitment.status == .active else { continue }
            if winning == nil {
                _ = ledger.refund(&commitment, at: now)
                summary.refunded += 1
                summary.tokensRefunded += commitment.stake  // bounded by the committed total: no overflow
            } else if commitment.position == winning {
                guard ledger.win(&commitment, at: now) else { return .refused(.overflow(.user, userID: commitment.userID, amount: commitment.potentialWinning)) }
                summary.winners += 1
                guard let paid = checkedAdd(summary.tokensPaid, commitment.potentialWinning) else {
                    return .refused(.overflow(.house, userID: commitment.userID, amount: commitment.potentialWinning))
                }
                summary.tokensPaid = paid
            } else {
                guard ledger.lose(&commitment, at: now) else { return .refused(.overflow(.house, userID: commitment.userID, amount: commitment.stake)) }
                summary.losers += 1
                summary.tokensCollected += commitment.stake  // bounded by the committed total
            }
        }
        var settled = prediction
        settled.status = summary.status
        settled.winning = winning
        settled.summary = summary
        ledger.predictions[ExactString(settle.predictionID)] = settled
        self = ledger
        return .predictionSettled(summary, alreadyDone: false)
    }

    /// Gives the stake back. Cannot overflow: available + committed is unchanged.
    private mutating func refund(_ commitment: inout Commitment, at now: Timestamp) -> Receipt {
        var account = accounts[ExactString(commitment.userID)]!  // a commitment's account exists
        let before = account
        account.committed -= commitment.stake
        account.available += commitment.stake
        commitment.status = .refunded
        commitment.settledAt = now
        commitments[commitment.id] = commitment
        guard case .accepted(let receipt) = record(
            account, userID: commitment.userID, type: .commitmentRefund, amount: commitment.stake, before: before.available,
            committedBefore: before.committed, reference: "commitment \(commitment.id) on \(commitment.predictionID)", memo: "",
            key: "", at: now)
        else { preconditionFailure("record answers a receipt") }
        return receipt
    }

    /// Pays the potential winning: the stake leaves committed, the winning arrives in
    /// available, and the profit comes from the house. False (nothing changed) on overflow.
    private mutating func win(_ commitment: inout Commitment, at now: Timestamp) -> Bool {
        var account = accounts[ExactString(commitment.userID)]!
        let before = account
        let profit = commitment.potentialWinning - commitment.stake  // odds >= 1.0: 0 or more
        guard let available = checkedAdd(account.available, commitment.potentialWinning),
            let earned = checkedAdd(account.totalEarned, profit), let house = checkedAdd(self.house, -profit)
        else { return false }
        account.committed -= commitment.stake
        account.available = available
        account.totalEarned = earned
        self.house = house
        commitment.status = .won
        commitment.settledAt = now
        commitments[commitment.id] = commitment
        _ = record(
            account, userID: commitment.userID, type: .win, amount: commitment.potentialWinning, before: before.available,
            committedBefore: before.committed, reference: "commitment \(commitment.id) on \(commitment.predictionID)", memo: "",
            key: "", at: now)
        return true
    }

    /// The stake leaves committed for the house, and counts as spent.
    private mutating func lose(_ commitment: inout Commitment, at now: Timestamp) -> Bool {
        var account = accounts[ExactString(commitment.userID)]!
        let before = account
        guard let spent = checkedAdd(account.totalSpent, commitment.stake), let house = checkedAdd(self.house, commitment.stake)
        else { return false }
        account.committed -= commitment.stake
        account.totalSpent = spent
        self.house = house
        commitment.status = .lost
        commitment.settledAt = now
        commitments[commitment.id] = commitment
        _ = record(
            account, userID: commitment.userID, type: .loss, amount: commitment.stake, before: before.available,
            committedBefore: before.committed, reference: "commitment \(commitment.id) on \(commitment.predictionID)", memo: "",
            key: "", at: now)
        return true
    }
}

extension Refusal {
    static func predictionSettled(_ prediction: Prediction) -> Refusal {
        let how = prediction.status == .voided ? "voided" : "resolved \(prediction.winning.map { String(describing: $0) } ?? "")"
        return Refusal(
            code: .failedPrecondition, reason: "PREDICTION_SETTLED", message: "prediction '\(prediction.id)' was \(how) already",
            details: ["prediction_id": prediction.id, "status": String(describing: prediction.status)])
    }
}
