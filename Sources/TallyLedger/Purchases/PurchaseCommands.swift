/// Commands of token packages (admin) and purchases (app servers).

/// Creates a package, or updates the one with this id (its creation time is kept).
public struct SavePackage: Equatable, Sendable {
    @ExactString public var id: String
    @ExactString public var name: String
    public var tokens: Int64
    public var bonusTokens: Int64
    public var priceCents: Int64
    @ExactString public var currency: String
    @ExactString public var externalPriceID: String
    public var active: Bool
    public var sortOrder: Int32

    public init(
        id: String, name: String, tokens: Int64, bonusTokens: Int64 = 0, priceCents: Int64, currency: String = "USD",
        externalPriceID: String = "", active: Bool = true, sortOrder: Int32 = 0
    ) {
        self.id = id
        self.name = name
        self.tokens = tokens
        self.bonusTokens = bonusTokens
        self.priceCents = priceCents
        self.currency = currency
        self.externalPriceID = externalPriceID
        self.active = active
        self.sortOrder = sortOrder
    }
}

/// Opens a pending purchase of `packageID` for `userID`, paid by `paymentID`. Starting again
/// with the same payment id, user and package answers the same purchase.
public struct StartPurchase: Equatable, Sendable {
    @ExactString public var userID: String
    @ExactString public var packageID: String
    @ExactString public var paymentID: String

    public init(userID: String, packageID: String, paymentID: String) {
        self.userID = userID
        self.packageID = packageID
        self.paymentID = paymentID
    }
}

/// Ends the purchase paid by `paymentID`: completed (credits its tokens, once) or failed.
public struct SettlePurchase: Equatable, Sendable {
    public enum Result: Equatable, Sendable {
        case completed
        case failed(reason: ExactString)
    }

    @ExactString public var paymentID: String
    public var result: Result

    public init(paymentID: String, result: Result) {
        self.paymentID = paymentID
        self.result = result
    }
}
