/// Admin and history reads over the UsageBook (an admin dashboard's queries). Each scans the
/// users, so the server runs them on a copy of the state, off the Writer.
extension UsageBook {
    /// A user's tokens on one day, for the top-users list.
    public struct DayUsage: Equatable, Sendable {
        public var userID: String
        public var tokens: Int64

        public init(userID: String, tokens: Int64) {
            self.userID = userID
            self.tokens = tokens
        }
    }

    /// How many users counted tokens on `date`.
    public func usersCounting(on date: CivilDay) -> Int {
        users.reduce(0) { $0 + ($1.value.tokens(on: date) > 0 ? 1 : 0) }
    }

    /// The users who used the most tokens on `date`, most first (ties by user id, byte-wise).
    public func topUsers(on date: CivilDay, limit: Int) -> [DayUsage] {
        let used = users.compactMap { key, user -> (ExactString, Int64)? in
            let tokens = user.tokens(on: date)
            return tokens > 0 ? (key, tokens) : nil
        }
        return used.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            .prefix(max(0, limit))
            .map { DayUsage(userID: $0.0.value, tokens: $0.1) }
    }

    /// A month's usage for one tier: how many users used tokens, their total, and the average
    /// per user (whole tokens, rounded down).
    public struct TierMonth: Equatable, Sendable {
        public var tier: String
        public var users: Int64
        public var total: Int64
        public var averagePerUser: Int64 { users == 0 ? 0 : total / users }
    }

    /// Per tier, the month's users and tokens; a user counts under the tier its month records.
    /// Totals saturate at Int64.max rather than trap.
    public func monthByTier(_ month: YearMonth) -> [TierMonth] {
        var byTier: [ExactString: TierMonth] = [:]
        for user in users.values {
            guard let aggregate = user.month(month), aggregate.total > 0 else { continue }
            var entry = byTier[aggregate.tier] ?? TierMonth(tier: aggregate.tier.value, users: 0, total: 0)
            entry.users += 1
            let sum = entry.total.addingReportingOverflow(aggregate.total)
            entry.total = sum.overflow ? .max : sum.partialValue
            byTier[aggregate.tier] = entry
        }
        return byTier.values.sorted { ExactString($0.tier) < ExactString($1.tier) }
    }

    /// A user's last `count` months with usage, newest first.
    public func months(of userID: String, last count: Int) -> [(month: YearMonth, usage: MonthUsage)] {
        guard let user = users[ExactString(userID)] else { return [] }
        return user.months.sorted { $0.key > $1.key }.prefix(max(0, count)).map { ($0.key, $0.value) }
    }

    /// A user's tokens per kept day, newest first, today's (or the last day used) included.
    public func days(of userID: String) -> [(date: CivilDay, tokens: Int64)] {
        let user = usage(of: userID) ?? UserUsage()
        var days = user.days.map { (date: $0.key, tokens: $0.value) }
        if let day = user.day, user.used > 0 { days.append((day, user.used)) }
        return days.sorted { $0.date > $1.date }
    }
}
