import HashTreeCollections

/// A user's membership: a tier until an optional expiry. The tier decides the user's
/// daily token limit and the prices of actions; without a membership, or after it expires, the
/// user is on the default tier. Tiers are the ones the daily limits define ([usage.tiers]).
public struct Membership: Equatable, Sendable {
    public var tier: ExactString
    /// nil: it never expires. The membership ends at this moment (exclusive).
    public var expiresAt: Timestamp?
    public var updatedAt: Timestamp

    public init(tier: ExactString, expiresAt: Timestamp?, updatedAt: Timestamp) {
        self.tier = tier
        self.expiresAt = expiresAt
        self.updatedAt = updatedAt
    }

    public func isActive(at now: Timestamp) -> Bool { expiresAt.map { now < $0 } ?? true }
}

/// Where a user stands: the tier that applies now, and the membership behind it.
public struct MembershipStatus: Equatable, Sendable {
    public var userID: String
    /// The tier prices and limits use now.
    public var tier: ExactString
    public var membership: Membership?
    /// Whether `membership` gives `tier` (false: expired, none, or its tier was removed).
    public var active: Bool
    public var defaultTier: ExactString

    public init(userID: String, tier: ExactString, membership: Membership?, active: Bool, defaultTier: ExactString) {
        self.userID = userID
        self.tier = tier
        self.membership = membership
        self.active = active
        self.defaultTier = defaultTier
    }
}

/// Sets a user's membership: `tier` until `expiresAt` (nil: no end), or with a nil tier, ends it.
public struct SetMembership: Equatable, Sendable {
    @ExactString public var userID: String
    /// Stored byte-exact for the compiler-written `==` (see ExactString).
    private var exactTier: ExactString?
    public var expiresAt: Timestamp?

    public var tier: String? {
        get { exactTier?.value }
        set { exactTier = newValue.map { ExactString($0) } }
    }

    public init(userID: String, tier: String?, expiresAt: Timestamp? = nil) {
        self.userID = userID
        self.tier = tier
        self.expiresAt = expiresAt
    }
}
