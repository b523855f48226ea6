import HashTreeCollections

/// Daily token limits by tier, changed at run time by admins through journaled
/// commands, so they are Ledger state rather than configuration.
public struct UsageLimits: Equatable, Sendable {
    /// Tokens per day for each tier.
    public var tiers: TreeDictionary<ExactString, Int64>
    /// The tier of a user who has none of their own.
    public var defaultTier: ExactString
    /// Tiers whose limit is evaluated but never enforced: would-be refusals are only counted.
    public var shadowTiers: Set<ExactString>
    /// The IANA zone whose midnight starts a new day. Only its name lives here: the Writer
    /// turns it into days (UsageCalendar) and journals each day it used.
    public var timeZone: String

    public init(
        tiers: TreeDictionary<ExactString, Int64> = ["trial": 10_000, "subscribed": 100_000],
        defaultTier: ExactString = "trial", shadowTiers: Set<ExactString> = [], timeZone: String = "UTC"
    ) {
        self.tiers = tiers
        self.defaultTier = defaultTier
        self.shadowTiers = shadowTiers
        self.timeZone = timeZone
    }
}

/// A month of one user's usage, kept after the daily records
/// it was built from are dropped.
public struct MonthUsage: Equatable, Sendable {
    /// Day of the month to tokens, for days with usage.
    public var days = MonthDays()
    public var total: Int64 = 0
    /// The user's tier when the month last changed.
    public var tier: ExactString

    public init(tier: ExactString) {
        self.tier = tier
    }

    /// Adds `tokens` on day `day` of the month, in place; the caller checked the sums.
    mutating func add(_ tokens: Int64, on day: UInt8, tier: ExactString) {
        self.tier = tier
        total += tokens
        days[day, default: 0] += tokens
    }

    /// Whole tokens per day, rounded down, over the days from the 1st to the last day with a
    /// record (days without usage count as 0): days 01–05 of 850, 1200, 0, 2100 and 1750 tokens
    /// average 1180.
    public var averagePerDay: Int64 {
        guard let last = days.keys.last else { return 0 }
        return total / Int64(last)
    }

    /// The day with the most tokens (the earliest of equal ones) and its tokens.
    public var peak: (day: UInt8, tokens: Int64)? {
        days.reduce(nil) { best, entry in
            guard let best else { return (entry.key, entry.value) }
            return entry.value > best.1 || (entry.value == best.1 && entry.key < best.0) ? (entry.key, entry.value) : best
        }
    }
}
