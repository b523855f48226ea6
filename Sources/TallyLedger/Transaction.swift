public enum TransactionType: Int, Sendable, CaseIterable {
    case purchase = 1
    case grant = 2
    case refund = 3
    case adjustment = 4
    case spend = 5
    /// Tokens moved from available to committed, staked on a prediction.
    case commit = 6
    /// A winning commitment paid: its stake leaves committed, its potential winning arrives in available.
    case win = 7
    /// A losing commitment: its stake leaves committed for the house.
    case loss = 8
    /// A commitment cancelled or its prediction voided: the stake goes back to available.
    case commitmentRefund = 9

    init(_ kind: CreditKind) {
        switch kind {
        case .purchase: self = .purchase
        case .grant: self = .grant
        case .refund: self = .refund
        case .adjustment: self = .adjustment
        }
    }

    /// Whether tokens flow into the user's account from the mint (a credit).
    public var isCredit: Bool {
        switch self {
        case .purchase, .grant, .refund, .adjustment: true
        case .spend, .commit, .win, .loss, .commitmentRefund: false
        }
    }
}

/// One movement of tokens between a user and a system account, as recorded in history.
public struct Transaction: Equatable, Sendable {
    public var id: UInt64
    public var userID: String
    public var type: TransactionType
    /// Always positive; `type` gives the direction.
    public var amount: Int64
    /// The user's available balance just before and just after.
    public var balanceBefore: Int64
    public var balanceAfter: Int64
    /// The user's committed tokens just before and just after (they change with predictions only).
    public var committedBefore: Int64
    public var committedAfter: Int64
    public var reference: String
    public var memo: String
    public var idempotencyKey: String
    public var createdAt: Timestamp
    /// For a spend by action: the action, and the tier whose price was charged ("" otherwise).
    public var action: String
    public var tier: String
    /// The caller's key-value facts (credits and spends), byte-exact.
    public var metadata: [ExactString: ExactString]

    public init(
        id: UInt64, userID: String, type: TransactionType, amount: Int64, balanceBefore: Int64,
        balanceAfter: Int64, committedBefore: Int64 = 0, committedAfter: Int64 = 0, reference: String, memo: String,
        idempotencyKey: String, createdAt: Timestamp, action: String = "", tier: String = "",
        metadata: [ExactString: ExactString] = [:]
    ) {
        self.metadata = metadata
        self.action = action
        self.tier = tier
        self.committedBefore = committedBefore
        self.committedAfter = committedAfter
        self.id = id
        self.userID = userID
        self.type = type
        self.amount = amount
        self.balanceBefore = balanceBefore
        self.balanceAfter = balanceAfter
        self.reference = reference
        self.memo = memo
        self.idempotencyKey = idempotencyKey
        self.createdAt = createdAt
    }
}
