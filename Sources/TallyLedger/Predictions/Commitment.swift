/// Tokens staked on one side of a yes/no prediction.
public struct Commitment: Equatable, Sendable {
    public enum Position: Int, Sendable, CaseIterable {
        case yes = 1
        case no = 2
    }

    public enum Status: Int, Sendable, CaseIterable {
        case active = 1
        case won = 2
        case lost = 3
        /// Cancelled, or its prediction voided: the stake went back.
        case refunded = 4
    }

    public var id: UInt64
    public var userID: String
    public var predictionID: String
    public var position: Position
    public var stake: Int64
    /// Decimal odds in millionths: 2.5 is 2_500_000. At least 1.0 (the stake back).
    public var oddsMicros: Int64
    /// What a win pays: floor(stake × odds), stake included (docs/decisions.md).
    public var potentialWinning: Int64
    public var status: Status
    public var createdAt: Timestamp
    /// When it was won, lost or refunded; 0 while active.
    public var settledAt: Timestamp

    public init(
        id: UInt64, userID: String, predictionID: String, position: Position, stake: Int64, oddsMicros: Int64,
        potentialWinning: Int64, status: Status, createdAt: Timestamp, settledAt: Timestamp
    ) {
        self.id = id
        self.userID = userID
        self.predictionID = predictionID
        self.position = position
        self.stake = stake
        self.oddsMicros = oddsMicros
        self.potentialWinning = potentialWinning
        self.status = status
        self.createdAt = createdAt
        self.settledAt = settledAt
    }

    /// Odds are at least 1.0 and at most 1,000,000.0.
    public static let oddsRange: ClosedRange<Int64> = 1_000_000...1_000_000_000_000

    /// floor(stake × odds / 1,000,000), or nil past Int64.max. Rounding down keeps every
    /// fraction of a token with the house, the same way every time.
    public static func potentialWinning(stake: Int64, oddsMicros: Int64) -> Int64? {
        let exact = Int128(stake) * Int128(oddsMicros) / 1_000_000
        return Int64(exactly: exact)
    }
}

/// A question commitments are made on. Opened by its first commitment; settled once, by a
/// resolution (a winning position) or a void.
public struct Prediction: Equatable, Sendable {
    public enum Status: Int, Sendable, CaseIterable {
        case open = 1
        case resolved = 2
        case voided = 3
    }

    public var id: String
    public var status: Status
    /// Commitments made at or after this moment are refused; nil: no close time.
    public var closesAt: Timestamp?
    public var winning: Commitment.Position?
    /// Every commitment ever made on it, in order.
    public var commitmentIDs: [UInt64]
    /// Set when it is settled: what settling it did, answered again to every later call.
    public var summary: PredictionSummary?

    public init(
        id: String, status: Status = .open, closesAt: Timestamp? = nil, winning: Commitment.Position? = nil,
        commitmentIDs: [UInt64] = [], summary: PredictionSummary? = nil
    ) {
        self.id = id
        self.status = status
        self.closesAt = closesAt
        self.winning = winning
        self.commitmentIDs = commitmentIDs
        self.summary = summary
    }
}

/// What resolving or voiding a prediction did.
public struct PredictionSummary: Equatable, Sendable {
    public var predictionID: String
    public var status: Prediction.Status
    public var winning: Commitment.Position?
    public var winners: Int64 = 0
    public var losers: Int64 = 0
    public var refunded: Int64 = 0
    /// Tokens paid to winners (their potential winnings, stakes included).
    public var tokensPaid: Int64 = 0
    /// Stakes the house collected from losers.
    public var tokensCollected: Int64 = 0
    /// Stakes given back by a void (commitments cancelled earlier were refunded then, and are not counted here).
    public var tokensRefunded: Int64 = 0
    public var settledAt: Timestamp

    public init(predictionID: String, status: Prediction.Status, winning: Commitment.Position?, settledAt: Timestamp) {
        self.predictionID = predictionID
        self.status = status
        self.winning = winning
        self.settledAt = settledAt
    }
}
