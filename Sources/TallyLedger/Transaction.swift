public enum TransactionType: Int, Sendable, CaseIterable {
    case purchase = 1
    case grant = 2
    case refund = 3
    case adjustment = 4
    case spend = 5

    init(_ kind: CreditKind) {
        switch kind {
        case .purchase: self = .purchase
        case .grant: self = .grant
        case .refund: self = .refund
        case .adjustment: self = .adjustment
        }
    }

    /// Whether tokens flow into the user's account (from the mint) or out (to burn).
    public var isCredit: Bool { self != .spend }
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
    public var reference: String
    public var memo: String
    public var idempotencyKey: String
    public var createdAt: Timestamp

    public init(
        id: UInt64, userID: String, type: TransactionType, amount: Int64, balanceBefore: Int64,
        balanceAfter: Int64, reference: String, memo: String, idempotencyKey: String, createdAt: Timestamp
    ) {
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
