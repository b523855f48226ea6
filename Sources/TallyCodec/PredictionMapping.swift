import TallyLedger
import TallyWire

// Conversions between commitments and predictions and their wire messages
// (tally.v1.Predictions). The store reuses them for journal records and snapshots.

extension Tally_V1_Position {
    public init(_ position: Commitment.Position?) {
        self = position.flatMap { Tally_V1_Position(rawValue: $0.rawValue) } ?? .unspecified
    }

    /// nil for UNSPECIFIED or a number this build does not know.
    public var ledgerValue: Commitment.Position? { Commitment.Position(rawValue: rawValue) }
}

extension Tally_V1_Commitment {
    public init(_ c: Commitment) {
        self.init()
        id = c.id
        userID = c.userID
        predictionID = c.predictionID
        position = Tally_V1_Position(c.position)
        stake = c.stake
        oddsMicros = c.oddsMicros
        potentialWinning = c.potentialWinning
        status = Tally_V1_CommitmentStatus(rawValue: c.status.rawValue) ?? .unspecified
        createdAtUs = c.createdAt
        settledAtUs = c.settledAt
    }

    public var ledgerValue: Commitment? {
        guard let position = position.ledgerValue, let status = Commitment.Status(rawValue: status.rawValue) else { return nil }
        return Commitment(
            id: id, userID: userID, predictionID: predictionID, position: position, stake: stake, oddsMicros: oddsMicros,
            potentialWinning: potentialWinning, status: status, createdAt: createdAtUs, settledAt: settledAtUs)
    }
}

extension Tally_V1_PredictionSummary {
    public init(_ s: PredictionSummary) {
        self.init()
        predictionID = s.predictionID
        status = Tally_V1_PredictionStatus(rawValue: s.status.rawValue) ?? .unspecified
        winning = Tally_V1_Position(s.winning)
        winners = s.winners
        losers = s.losers
        refunded = s.refunded
        tokensPaid = s.tokensPaid
        tokensCollected = s.tokensCollected
        tokensRefunded = s.tokensRefunded
        settledAtUs = s.settledAt
    }

    public var ledgerValue: PredictionSummary? {
        guard let status = Prediction.Status(rawValue: status.rawValue) else { return nil }
        var summary = PredictionSummary(predictionID: predictionID, status: status, winning: winning.ledgerValue, settledAt: settledAtUs)
        summary.winners = winners
        summary.losers = losers
        summary.refunded = refunded
        summary.tokensPaid = tokensPaid
        summary.tokensCollected = tokensCollected
        summary.tokensRefunded = tokensRefunded
        return summary
    }
}

extension Tally_V1_Prediction {
    public init(_ p: Prediction) {
        self.init()
        id = p.id
        status = Tally_V1_PredictionStatus(rawValue: p.status.rawValue) ?? .unspecified
        closesAtUs = p.closesAt ?? 0
        winning = Tally_V1_Position(p.winning)
        commitmentIds = p.commitmentIDs
        if let summary = p.summary { self.summary = Tally_V1_PredictionSummary(summary) }
    }

    public var ledgerValue: Prediction? {
        guard let status = Prediction.Status(rawValue: status.rawValue) else { return nil }
        var summary: PredictionSummary?
        if hasSummary {
            guard let value = self.summary.ledgerValue else { return nil }
            summary = value
        }
        return Prediction(
            id: id, status: status, closesAt: closesAtUs == 0 ? nil : closesAtUs, winning: winning.ledgerValue,
            commitmentIDs: commitmentIds, summary: summary)
    }
}

extension Tally_V1_CommitRequest {
    public init(_ commit: Commit) {
        self.init()
        userID = commit.userID
        predictionID = commit.predictionID
        position = Tally_V1_Position(commit.position)
        stake = commit.stake
        oddsMicros = commit.oddsMicros
        idempotencyKey = commit.idempotencyKey
    }

    public var ledgerValue: Commit {
        Commit(
            userID: userID, predictionID: predictionID, position: position.ledgerValue, stake: stake, oddsMicros: oddsMicros,
            idempotencyKey: idempotencyKey)
    }
}

extension Tally_V1_CommitResponse {
    public init(_ receipt: CommitmentReceipt, replayed: Bool) {
        self.init()
        commitment = Tally_V1_Commitment(receipt.commitment)
        transaction = Tally_V1_Transaction(receipt.receipt.transaction)
        balance = Tally_V1_Balance(receipt.receipt.balance)
        self.replayed = replayed
    }

    public var ledgerValue: CommitmentReceipt? {
        guard let commitment = commitment.ledgerValue, let tx = transaction.ledgerValue else { return nil }
        return CommitmentReceipt(commitment: commitment, receipt: Receipt(transaction: tx, balance: balance.ledgerValue))
    }
}
