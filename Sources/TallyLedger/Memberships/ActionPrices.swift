import HashTreeCollections

/// What an action costs per tier: "generate-post" costs 5 tokens on trial and 2 on
/// pro. A tier without a price of its own pays the default tier's price.
public struct ActionPrice: Equatable, Sendable {
    public var action: ExactString
    /// Tokens per tier; never empty while the action exists.
    public var costs: TreeDictionary<ExactString, Int64>

    public init(action: ExactString, costs: TreeDictionary<ExactString, Int64> = [:]) {
        self.action = action
        self.costs = costs
    }
}

/// An admin's change to the price table: `cost` tokens for `action` on `tier`; nil removes it
/// (and the action, with its last price).
public struct SetActionPrice: Equatable, Sendable {
    @ExactString public var action: String
    @ExactString public var tier: String
    public var cost: Int64?

    public init(action: String, tier: String, cost: Int64?) {
        self.action = action
        self.tier = tier
        self.cost = cost
    }
}

/// Spends the price of `action` for the user's tier at the moment it is applied.
public struct SpendAction: Equatable, Sendable {
    @ExactString public var userID: String
    @ExactString public var action: String
    @ExactString public var reference: String
    @ExactString public var memo: String
    @ExactString public var idempotencyKey: String
    public var metadata: [ExactString: ExactString]

    public init(
        userID: String, action: String, reference: String = "", memo: String = "", idempotencyKey: String = "",
        metadata: [ExactString: ExactString] = [:]
    ) {
        self.metadata = metadata
        self.userID = userID
        self.action = action
        self.reference = reference
        self.memo = memo
        self.idempotencyKey = idempotencyKey
    }
}
