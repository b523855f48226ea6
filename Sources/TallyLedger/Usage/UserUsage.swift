import HashTreeCollections

/// One user's daily-limit state: today's counts, the recent daily records and the monthly
/// aggregates.
public struct UserUsage: Equatable, Sendable {
    /// A per-user daily limit that replaces the tier's.
    public var limitOverride: Int64?
    /// Limit evaluated, never enforced, for this user.
    public var shadow = false
    /// The day `used`, `reserved` and `shadowRefusals` count; nil before the first usage.
    public var day: CivilDay?
    /// Tokens consumed and settled on `day`.
    public var used: Int64 = 0
    /// Tokens held by open reservations made on `day`.
    public var reserved: Int64 = 0
    /// Calls on `day` that the limit would have refused, in shadow mode.
    public var shadowRefusals: Int64 = 0
    /// Tokens per earlier day, kept for the retention period (UsageRetention.days).
    public var days: TreeDictionary<CivilDay, Int64> = [:]
    /// Monthly aggregates, kept for UsageRetention.months; they include `used`.
    public var months: TreeDictionary<YearMonth, MonthUsage> = [:]

    public init() {}

    /// Counts `tokens` on today (`date` is `day`), in place; the caller checked every sum.
    mutating func count(_ tokens: Int64, on date: CivilDay, month: YearMonth, tier: ExactString, shadowed: Bool) {
        if shadowed { shadowRefusals += 1 }
        used += tokens
        months[month, default: MonthUsage(tier: tier)].add(tokens, on: date.day, tier: tier)
    }

    /// The tokens recorded for `date`: today's count or an earlier day's record.
    public func tokens(on date: CivilDay) -> Int64 {
        date == day ? used : days[date] ?? 0
    }
}

/// Tokens held for a model call in progress; settled with the real count, released, or
/// released by itself at `expiresAt`.
public struct Reservation: Equatable, Sendable {
    public var id: UInt64
    public var userID: ExactString
    public var tokens: Int64
    /// The day whose quota it holds; its settlement counts on that day.
    public var day: CivilDay
    public var createdAt: Timestamp
    public var expiresAt: Timestamp

    public init(id: UInt64, userID: ExactString, tokens: Int64, day: CivilDay, createdAt: Timestamp, expiresAt: Timestamp) {
        self.id = id
        self.userID = userID
        self.tokens = tokens
        self.day = day
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// How long usage history is kept: daily records for `days` days (then only their month's
/// aggregate remains), monthly aggregates for `months` months.
public struct UsageRetention: Equatable, Sendable {
    public var days: Int64
    public var months: Int64

    public init(days: Int64 = 35, months: Int64 = 13) {
        self.days = max(1, days)
        self.months = max(1, months)
    }
}

/// A user's standing on a day, as Check and every usage answer report it.
public struct UsageStatus: Equatable, Sendable {
    public var userID: String
    public var date: CivilDay
    public var used: Int64
    public var reserved: Int64
    public var limit: Int64
    /// What may still be consumed or reserved today (0 when over).
    public var remaining: Int64
    /// When the day ends and the count starts again.
    public var resetsAt: Timestamp
    public var tier: ExactString
    public var shadow: Bool
    /// Calls today that the limit would have refused (shadow mode).
    public var shadowRefusals: Int64

    public init(
        userID: String, date: CivilDay, used: Int64, reserved: Int64, limit: Int64, remaining: Int64, resetsAt: Timestamp,
        tier: ExactString, shadow: Bool, shadowRefusals: Int64
    ) {
        self.userID = userID
        self.date = date
        self.used = used
        self.reserved = reserved
        self.limit = limit
        self.remaining = remaining
        self.resetsAt = resetsAt
        self.tier = tier
        self.shadow = shadow
        self.shadowRefusals = shadowRefusals
    }
}
