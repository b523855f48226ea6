/// The daily-limit commands of chat gateways. The day each one counts on is not part of the
/// request: the Writer stamps it (with the time) and the journal keeps it, so a retry on the
/// next day is still "the same request" for its idempotency key.

/// Counts `tokens` against today's limit, or refuses and counts nothing.
public struct Consume: Equatable, Sendable {
    @ExactString public var userID: String
    public var tokens: Int64
    @ExactString public var idempotencyKey: String

    public init(userID: String, tokens: Int64, idempotencyKey: String = "") {
        self.userID = userID
        self.tokens = tokens
        self.idempotencyKey = idempotencyKey
    }
}

/// Holds `tokens` of today's quota for a model call in progress.
public struct Reserve: Equatable, Sendable {
    /// When a request names no time-to-live.
    public static let defaultTTLMilliseconds: UInt32 = 60_000
    /// The longest hold: a reservation is a model call in flight, not a standing allowance.
    public static let maxTTLMilliseconds: UInt32 = 3_600_000

    @ExactString public var userID: String
    public var tokens: Int64
    /// Until the reservation releases itself; 0 means `defaultTTLMilliseconds`.
    public var ttlMilliseconds: UInt32
    @ExactString public var idempotencyKey: String

    public init(userID: String, tokens: Int64, ttlMilliseconds: UInt32 = 0, idempotencyKey: String = "") {
        self.userID = userID
        self.tokens = tokens
        self.ttlMilliseconds = ttlMilliseconds
        self.idempotencyKey = idempotencyKey
    }
}

/// Ends a reservation with the real count of tokens used.
public struct Settle: Equatable, Sendable {
    public var reservationID: UInt64
    public var tokens: Int64
    @ExactString public var idempotencyKey: String

    public init(reservationID: UInt64, tokens: Int64, idempotencyKey: String = "") {
        self.reservationID = reservationID
        self.tokens = tokens
        self.idempotencyKey = idempotencyKey
    }
}

/// Ends a reservation without counting anything (the model call failed or was cancelled).
public struct Release: Equatable, Sendable {
    public var reservationID: UInt64
    @ExactString public var idempotencyKey: String

    public init(reservationID: UInt64, idempotencyKey: String = "") {
        self.reservationID = reservationID
        self.idempotencyKey = idempotencyKey
    }
}

/// An admin's change to the daily limits. A nil limit removes a tier (or a user's override).
public enum UsageChange: Equatable, Sendable {
    case tierLimit(tier: String, tokens: Int64?)
    case userLimit(userID: String, tokens: Int64?)
    /// A user's tier: a membership without expiry (nil ends it). Kept for SetLimits callers;
    /// SetMembership also takes an expiry.
    case userTier(userID: String, tier: String?)
    case tierShadow(tier: String, on: Bool)
    case userShadow(userID: String, on: Bool)
    case defaultTier(String)
    /// An IANA zone name; the server checks it against the tz database before it gets here.
    case timeZone(String)
}
