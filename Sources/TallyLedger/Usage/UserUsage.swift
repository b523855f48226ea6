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
    public var days = DayTokens<CivilDay>()

    /// The monthly aggregates as stored, without `unfolded`. A consume counts today in `used`
    /// and `unfolded` only, so the common call touches this struct and no month or day tree
    /// (three cache misses a call before, docs/decisions.md); the first read or change of
    /// `months` after it folds them in.
    private(set) var recordedMonths: TreeDictionary<YearMonth, MonthUsage> = [:]
    /// Tokens counted on `day` and not yet in `recordedMonths` (0 ≤ unfolded ≤ used).
    private(set) var unfolded: Int64 = 0
    /// `recordedMonths[day's month].total` when `unfolded` started (meaningful while > 0).
    private(set) var unfoldedBase: Int64 = 0
    /// The tier of the latest unfolded count: the month's tier once folded.
    private(set) var unfoldedTier: ExactString = ""

    /// Monthly aggregates, kept for UsageRetention.months; they include `used`.
    public var months: TreeDictionary<YearMonth, MonthUsage> {
        get {
            guard unfolded > 0, let day else { return recordedMonths }
            var months = recordedMonths
            months[YearMonth(day)] = month(YearMonth(day))
            return months
        }
        set {
            recordedMonths = newValue
            unfolded = 0
        }
    }

    public init() {}

    /// One month's aggregate as `months` reads it, folding in only that month (a report over
    /// every user asks for one month each; `months` would build the whole folded tree).
    public func month(_ month: YearMonth) -> MonthUsage? {
        guard unfolded > 0, let day, YearMonth(day) == month else { return recordedMonths[month] }
        var aggregate = recordedMonths[month] ?? MonthUsage(tier: unfoldedTier)
        aggregate.add(unfolded, on: day.day, tier: unfoldedTier)
        return aggregate
    }

    /// Moves `unfolded` into `recordedMonths`; due before `day` or `used` changes, which the
    /// unfolded count is measured against (`UsageBook.roll` does it first).
    mutating func fold() {
        guard unfolded > 0 else { return }
        months = months
    }

    /// The total of `day`'s month so far (today's count included), without building `months`.
    func monthTotalToday(_ month: YearMonth) -> Int64 {
        unfolded > 0 ? unfoldedBase + unfolded : recordedMonths[month]?.total ?? 0
    }

    /// Counts `tokens` on today (`day`, in `month`), in place; the caller checked every sum
    /// (`monthTotal` is `monthTotalToday(month)`).
    mutating func countToday(_ tokens: Int64, monthTotal: Int64, tier: ExactString, shadowed: Bool) {
        if shadowed { shadowRefusals += 1 }
        if unfolded == 0 { unfoldedBase = monthTotal }
        used += tokens
        unfolded += tokens
        unfoldedTier = tier
    }

    /// Equal when every count and record reads the same, however much is folded.
    public static func == (a: UserUsage, b: UserUsage) -> Bool {
        a.limitOverride == b.limitOverride && a.shadow == b.shadow && a.day == b.day && a.used == b.used
            && a.reserved == b.reserved && a.shadowRefusals == b.shadowRefusals && a.days == b.days && a.months == b.months
    }

    /// The stored parts' own rules (`UsageBook.invariantViolations` checks the rest through `months`).
    func foldViolations() -> [String] {
        var violations: [String] = []
        if unfolded < 0 || unfolded > used { violations.append("unfolded \(unfolded) is outside 0...used \(used)") }
        if unfolded > 0, let day, unfoldedBase != recordedMonths[YearMonth(day)]?.total ?? 0 {
            violations.append("unfolded count's base \(unfoldedBase) is not its month's stored total")
        }
        return violations
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
