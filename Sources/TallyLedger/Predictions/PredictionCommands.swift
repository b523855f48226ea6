/// Commands of predictions: commit (app servers), cancel, resolve, void, close (admins).

/// Stakes `stake` tokens from `userID`'s available balance on `position` of `predictionID`.
public struct Commit: Equatable, Sendable {
    @ExactString public var userID: String
    @ExactString public var predictionID: String
    /// nil when the caller named none (or one this version does not know): refused.
    public var position: Commitment.Position?
    public var stake: Int64
    public var oddsMicros: Int64
    @ExactString public var idempotencyKey: String

    public init(
        userID: String, predictionID: String, position: Commitment.Position?, stake: Int64, oddsMicros: Int64,
        idempotencyKey: String = ""
    ) {
        self.userID = userID
        self.predictionID = predictionID
        self.position = position
        self.stake = stake
        self.oddsMicros = oddsMicros
        self.idempotencyKey = idempotencyKey
    }
}

/// Settles a prediction once: with a winning position (resolve) or for nobody (void).
public struct SettlePrediction: Equatable, Sendable {
    public enum Result: Equatable, Sendable {
        /// nil winner: the caller named no position; refused.
        case resolve(winning: Commitment.Position?)
        case void
    }

    @ExactString public var predictionID: String
    public var result: Result

    public init(predictionID: String, result: Result) {
        self.predictionID = predictionID
        self.result = result
    }
}

/// What a commit or cancel answers: the commitment, its transaction and the balance after.
public struct CommitmentReceipt: Equatable, Sendable {
    public var commitment: Commitment
    public var receipt: Receipt

    public init(commitment: Commitment, receipt: Receipt) {
        self.commitment = commitment
        self.receipt = receipt
    }
}
