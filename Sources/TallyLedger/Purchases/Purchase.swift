/// A purchase of a token package, from start to completion or failure. The tokens,
/// bonus and price are fixed when it starts. Completion credits exactly once: the credit, its
/// history record and the purchase's new status are one Ledger command, so "payment captured,
/// tokens never credited, no history row" cannot happen.
public struct Purchase: Equatable, Sendable {
    public enum Status: Int, Sendable, CaseIterable {
        case pending = 1
        case completed = 2
        case failed = 3
    }

    public var id: UInt64
    public var userID: String
    public var packageID: String
    /// The payment provider's id: unique across purchases, and the key completion is called by.
    public var paymentID: String
    public var tokens: Int64
    public var bonusTokens: Int64
    public var priceCents: Int64
    public var currency: String
    public var status: Status
    /// Why it failed: the caller's reason, or `Purchase.expiredReason`.
    public var failureReason: String
    public var createdAt: Timestamp
    /// When it completed or failed; 0 while pending.
    public var settledAt: Timestamp
    /// The credit's history record and the balance right after it, once completed: what every
    /// later completion call answers again.
    public var completion: Receipt?

    /// The failure reason of a purchase that stayed pending past the purchase timeout.
    public static let expiredReason = "EXPIRED"

    public init(
        id: UInt64, userID: String, packageID: String, paymentID: String, tokens: Int64, bonusTokens: Int64, priceCents: Int64,
        currency: String, status: Status, failureReason: String, createdAt: Timestamp, settledAt: Timestamp, completion: Receipt?
    ) {
        self.id = id
        self.userID = userID
        self.packageID = packageID
        self.paymentID = paymentID
        self.tokens = tokens
        self.bonusTokens = bonusTokens
        self.priceCents = priceCents
        self.currency = currency
        self.status = status
        self.failureReason = failureReason
        self.createdAt = createdAt
        self.settledAt = settledAt
        self.completion = completion
    }

    /// What completion credits: the package's tokens and its bonus.
    public var totalTokens: Int64? { checkedAdd(tokens, bonusTokens) }
}

/// What a purchase command answers: the purchase as it is after the command.
public struct PurchaseReceipt: Equatable, Sendable {
    public var purchase: Purchase
    /// True when the command found its work already done (a retried start or completion):
    /// nothing changed.
    public var alreadyDone: Bool

    public init(purchase: Purchase, alreadyDone: Bool) {
        self.purchase = purchase
        self.alreadyDone = alreadyDone
    }
}
