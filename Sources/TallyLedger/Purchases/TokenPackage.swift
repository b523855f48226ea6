/// Tokens for sale: what a purchase of it credits and costs.
/// Admins create, update and deactivate packages; a purchase copies the figures it was
/// started with, so changing a package never changes a purchase in flight.
public struct TokenPackage: Equatable, Sendable {
    public var id: String
    public var name: String
    public var tokens: Int64
    public var bonusTokens: Int64
    /// Whole cents (or the currency's minor unit): money is never a floating-point number.
    public var priceCents: Int64
    /// ISO 4217, e.g. "USD".
    public var currency: String
    /// The payment provider's id for this price (a Stripe price id, say).
    public var externalPriceID: String
    public var active: Bool
    /// Display order: lower first, then by id.
    public var sortOrder: Int32
    public var createdAt: Timestamp
    public var updatedAt: Timestamp

    public init(
        id: String, name: String, tokens: Int64, bonusTokens: Int64, priceCents: Int64, currency: String,
        externalPriceID: String, active: Bool, sortOrder: Int32, createdAt: Timestamp, updatedAt: Timestamp
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
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
