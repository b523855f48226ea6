import HashTreeCollections

/// One user's daily-limit state: today's counts, the recent daily records and the monthly
/// aggregates.
///
/// Stored compactly: a gateway keeps one of these for every user who ever consumed, so its
/// size is the usage book's size. The daily records and the months' days are one list of
/// earlier days (`history`): a day that is both a record and a day of a kept month holds one
/// count, since the two always agree (an invariant checked before this layout existed). A
/// month's total is its days' sum, and today's count lives in `used` alone. So a user costs
/// this struct, its slot in `UsageUsers`, and one allocation for its earlier days (plus one for
/// earlier months' tiers once a month has passed); `days` and `months` are built when read
/// (docs/decisions.md, "A user's usage in one list of days").
public struct UserUsage: Equatable, Sendable {
    // Stored in this order, the fields pack into 80 bytes with no padding.

    /// The day `used`, `reserved` and `shadowRefusals` count; nil before the first usage.
    public internal(set) var day: CivilDay?
    /// Limit evaluated, never enforced, for this user.
    public var shadow = false
    /// Tokens consumed and settled on `day`.
    public var used: Int64 = 0
    /// Tokens held by open reservations made on `day`.
    public var reserved: Int64 = 0
    /// Calls on `day` that the limit would have refused, in shadow mode.
    public var shadowRefusals: Int64 = 0
    /// The sum of `history`'s days in `day`'s month that count in it: with `used`, the month's
    /// total, which a consume checks without reading `history`.
    private(set) var monthBefore: Int64 = 0
    /// `limitOverride`, or `noLimit` (limits are never negative).
    private var storedLimit = noLimit
    /// Earlier days with tokens, in day order, each a daily record, a day of its month's
    /// aggregate, or both.
    private(set) var history: [DayCount] = []
    /// The tier of each earlier kept month with counts, in month order.
    private(set) var earlierMonthTiers: [MonthTier] = []
    /// The tier of the latest count in `day`'s month ("" before one).
    private(set) var monthTier: ExactString = ""

    private static let noLimit = Int64.min

    /// A per-user daily limit that replaces the tier's.
    public var limitOverride: Int64? {
        get { storedLimit == Self.noLimit ? nil : storedLimit }
        set { storedLimit = newValue ?? Self.noLimit }
    }

    /// An earlier day's count in 12 bytes (a gateway user at full retention holds about 400):
    /// the date packed so that the numbers order as the dates do, two flag bits, and the
    /// tokens as two halves, so nothing needs 8-byte alignment.
    struct DayCount: Equatable, Sendable {
        private var packed: UInt32  // year + yearBias (21 bits), month (4), day (5), isRecord, inMonth
        private var tokensLow: UInt32
        private var tokensHigh: UInt32

        /// Years a day count can hold: far beyond any date a timestamp gives (±292,277).
        static let years: ClosedRange<Int32> = -1_048_576...1_048_575
        private static let yearBias: Int32 = 1_048_576

        init(date: CivilDay, isRecord: Bool, inMonth: Bool, tokens: Int64) {
            precondition(Self.years.contains(date.year), "year \(date.year) outside what a usage day count holds")
            let key = UInt32(date.year + Self.yearBias) << 9 | UInt32(date.month) << 5 | UInt32(date.day)
            packed = key << 2
            tokensLow = 0
            tokensHigh = 0
            self.isRecord = isRecord
            self.inMonth = inMonth
            self.tokens = tokens
        }

        var date: CivilDay {
            let key = packed >> 2
            return CivilDay(year: Int32(key >> 9) - Self.yearBias, month: UInt8((key >> 5) & 15), day: UInt8(key & 31))
        }

        /// A daily record (within the days retention keeps).
        var isRecord: Bool {
            get { packed & 2 != 0 }
            set { packed = newValue ? packed | 2 : packed & ~2 }
        }

        /// A day of its month's aggregate (the month is within the months retention keeps).
        var inMonth: Bool {
            get { packed & 1 != 0 }
            set { packed = newValue ? packed | 1 : packed & ~1 }
        }

        var tokens: Int64 {
            get { Int64(bitPattern: UInt64(tokensHigh) << 32 | UInt64(tokensLow)) }
            set {
                tokensLow = UInt32(truncatingIfNeeded: newValue)
                tokensHigh = UInt32(truncatingIfNeeded: newValue >> 32)
            }
        }
    }

    struct MonthTier: Equatable, Sendable {
        var month: YearMonth
        var tier: ExactString
    }

    public init() {}

    /// A user from its stored parts (a snapshot): the records and months as `days` and
    /// `months` read them, today's count included in its month. Throws what does not fit
    /// together: a day whose record and month differ, a month whose total is not its days'
    /// sum, today's count missing from its month, a record on or after today.
    public init(
        limitOverride: Int64?, shadow: Bool, day: CivilDay?, used: Int64, reserved: Int64, shadowRefusals: Int64,
        days: DayTokens<CivilDay>, months: [(month: YearMonth, usage: MonthUsage)]
    ) throws(UsageHistoryError) {
        self.limitOverride = limitOverride
        self.shadow = shadow
        self.day = day
        self.used = used
        self.reserved = reserved
        self.shadowRefusals = shadowRefusals
        var counts: [CivilDay: DayCount] = [:]
        for (date, tokens) in days {
            guard let day, date < day else { throw UsageHistoryError("a daily record of \(date) is not before today \(day.map(\.description) ?? "(none)")") }
            guard tokens > 0, DayCount.years.contains(date.year) else { throw UsageHistoryError("\(date) records \(tokens) tokens") }
            counts[date] = DayCount(date: date, isRecord: true, inMonth: false, tokens: tokens)
        }
        let current = day.map(YearMonth.init)
        var todayInMonth = false
        for (month, usage) in months.sorted(by: { $0.month < $1.month }) {
            var sum: Int64 = 0
            for (dayOfMonth, tokens) in usage.days {
                guard tokens > 0, DayCount.years.contains(month.year),
                    let date = CivilDay(checkedYear: month.year, month: month.month, day: dayOfMonth)
                else {
                    throw UsageHistoryError("\(month) has \(tokens) tokens on day \(dayOfMonth)")
                }
                guard let added = checkedAdd(sum, tokens) else { throw UsageHistoryError("\(month)'s days overflow") }
                sum = added
                guard let day, date <= day else { throw UsageHistoryError("\(month) counts \(date), after today") }
                if date == day {
                    guard tokens == used else { throw UsageHistoryError("\(month) has \(tokens) tokens today, today's count is \(used)") }
                    todayInMonth = true
                    continue
                }
                if let record = counts[date] {
                    guard record.tokens == tokens else {
                        throw UsageHistoryError("\(date) has \(record.tokens) tokens, its month says \(tokens)")
                    }
                }
                counts[date, default: DayCount(date: date, isRecord: false, inMonth: true, tokens: tokens)].inMonth = true
            }
            guard sum == usage.total, sum > 0 else { throw UsageHistoryError("\(month) totals \(usage.total), its days sum to \(sum)") }
            if month == current {
                monthTier = usage.tier
            } else {
                earlierMonthTiers.append(MonthTier(month: month, tier: usage.tier))
            }
        }
        guard used == 0 || todayInMonth else { throw UsageHistoryError("today's \(used) tokens are not in their month") }
        history = counts.values.sorted { $0.date < $1.date }
        monthBefore = history.reduce(0) { $1.inMonth && YearMonth($1.date) == current ? $0 + $1.tokens : $0 }
    }

    /// The daily records: tokens per earlier day, kept for the retention period (UsageRetention.days).
    public var days: DayTokens<CivilDay> {
        var days = DayTokens<CivilDay>()
        for count in history where count.isRecord { days[count.date] = count.tokens }
        return days
    }

    /// Monthly aggregates, kept for UsageRetention.months; they include `used`.
    public var months: TreeDictionary<YearMonth, MonthUsage> {
        var months = TreeDictionary<YearMonth, MonthUsage>()
        var building: (month: YearMonth, usage: MonthUsage)?
        func finish() {
            if let building { months[building.month] = building.usage }
        }
        for count in history where count.inMonth {
            let month = YearMonth(count.date)
            if building?.month != month {
                finish()
                building = (month, MonthUsage(tier: tier(of: month)))
            }
            building!.usage.total += count.tokens
            building!.usage.days[count.date.day] = count.tokens
        }
        finish()
        if used > 0, let day {
            let month = YearMonth(day)
            var usage = months[month] ?? MonthUsage(tier: monthTier)
            usage.total += used
            usage.days[day.day] = used
            months[month] = usage
        }
        return months
    }

    /// One month's aggregate as `months` reads it, without building the others (a report over
    /// every user asks for one month each).
    public func month(_ month: YearMonth) -> MonthUsage? {
        var usage = MonthUsage(tier: tier(of: month))
        for count in history where count.inMonth && YearMonth(count.date) == month {
            usage.total += count.tokens
            usage.days[count.date.day] = count.tokens
        }
        if used > 0, let day, YearMonth(day) == month {
            usage.total += used
            usage.days[day.day] = used
        }
        return usage.total > 0 ? usage : nil
    }

    private func tier(of month: YearMonth) -> ExactString {
        if let day, YearMonth(day) == month { return monthTier }
        return earlierMonthTiers.first { $0.month == month }?.tier ?? ""
    }

    /// The total of `day`'s month so far, today's count included, without reading `history`.
    func monthTotalToday() -> Int64 { monthBefore + used }

    /// Counts `tokens` on today, in place; the caller checked every sum.
    mutating func countToday(_ tokens: Int64, tier: ExactString, shadowed: Bool) {
        if shadowed { shadowRefusals += 1 }
        used += tokens
        monthTier = tier
    }

    /// Adds `tokens` to the earlier day `date` (before `day`): to its record if `isRecord`, to
    /// its month if `inMonth` (with `tier` as the month's). False, and nothing changed, on
    /// overflow of the day or its month.
    mutating func countEarlier(_ tokens: Int64, on date: CivilDay, isRecord: Bool, inMonth: Bool, tier: ExactString) -> Bool {
        guard isRecord || inMonth else { return true }
        let month = YearMonth(date)
        let index = history.partitioningIndex { $0.date >= date }
        let existing = index < history.count && history[index].date == date ? history[index] : nil
        guard let onDay = checkedAdd(existing?.tokens ?? 0, tokens) else { return false }
        if inMonth {
            let isCurrent = day.map(YearMonth.init) == month
            let total = isCurrent ? monthTotalToday() : history.reduce(0) { $1.inMonth && YearMonth($1.date) == month ? $0 + $1.tokens : $0 }
            guard checkedAdd(total, tokens) != nil else { return false }
            if isCurrent {
                monthBefore += tokens
                monthTier = tier
            } else {
                let at = earlierMonthTiers.partitioningIndex { $0.month >= month }
                if at < earlierMonthTiers.count && earlierMonthTiers[at].month == month {
                    earlierMonthTiers[at].tier = tier
                } else {
                    earlierMonthTiers.insert(MonthTier(month: month, tier: tier), at: at)
                }
            }
        }
        if existing != nil {
            history[index].tokens = onDay
            history[index].isRecord = history[index].isRecord || isRecord
            history[index].inMonth = history[index].inMonth || inMonth
        } else {
            reserveForOneMore()
            history.insert(DayCount(date: date, isRecord: isRecord, inMonth: inMonth, tokens: onDay), at: index)
        }
        return true
    }

    /// Room for one more earlier day, grown by an eighth (at least two days) rather than
    /// doubled: a user gains about a day a day, and doubling left up to half of a long
    /// history's array unused.
    private mutating func reserveForOneMore() {
        guard history.count == history.capacity else { return }
        history.reserveCapacity(history.count + max(2, history.count / 8))
    }

    /// Moves to `date`, a later day: today's count becomes an earlier day, and what `isKept`
    /// (record) and `monthIsKept` no longer keep is dropped.
    mutating func roll(to date: CivilDay, isKept: (CivilDay) -> Bool, monthIsKept: (YearMonth) -> Bool) {
        guard let current = day, current < date else {
            if day == nil { day = date }
            return
        }
        let currentMonth = YearMonth(current)
        if used > 0 {
            // Appended in order: every earlier day is before `current`.
            reserveForOneMore()
            history.append(DayCount(date: current, isRecord: true, inMonth: true, tokens: used))
        }
        if YearMonth(date) != currentMonth {
            if monthBefore + used > 0 { earlierMonthTiers.append(MonthTier(month: currentMonth, tier: monthTier)) }
            monthBefore = 0
            monthTier = ""
        } else {
            monthBefore += used
        }
        used = 0
        reserved = 0  // reservations hold the day they were made on; that day is over
        shadowRefusals = 0
        day = date
        // In place: the array keeps its capacity, so a user's days are not copied at each roll.
        for index in history.indices {
            if history[index].isRecord && !isKept(history[index].date) { history[index].isRecord = false }
            if history[index].inMonth && !monthIsKept(YearMonth(history[index].date)) { history[index].inMonth = false }
        }
        history.removeAll { !$0.isRecord && !$0.inMonth }
        earlierMonthTiers.removeAll { !monthIsKept($0.month) }
    }

    /// Equal when every count and record reads the same.
    public static func == (a: UserUsage, b: UserUsage) -> Bool {
        a.limitOverride == b.limitOverride && a.shadow == b.shadow && a.day == b.day && a.used == b.used
            && a.reserved == b.reserved && a.shadowRefusals == b.shadowRefusals && a.days == b.days && a.months == b.months
    }

    /// The stored layout's own rules (`UsageBook.invariantViolations` checks the rest through
    /// `days` and `months`).
    public func layoutViolations() -> [String] {
        var violations: [String] = []
        for (earlier, later) in zip(history, history.dropFirst()) where earlier.date >= later.date {
            violations.append("earlier days out of order at \(later.date)")
        }
        if let day, let last = history.last, last.date >= day { violations.append("an earlier day \(last.date) is not before today \(day)") }
        for count in history where count.tokens <= 0 || !(count.isRecord || count.inMonth) {
            violations.append("earlier day \(count.date) holds \(count.tokens) tokens as \(count.isRecord ? "a record" : "")\(count.inMonth ? " a month's day" : "")")
        }
        let current = day.map(YearMonth.init)
        let sum = history.reduce(Int128(0)) { $1.inMonth && YearMonth($1.date) == current ? $0 + Int128($1.tokens) : $0 }
        if sum != Int128(monthBefore) { violations.append("this month's earlier days sum to \(sum), stored as \(monthBefore)") }
        let monthsWithDays = Set(history.filter { $0.inMonth && YearMonth($0.date) != current }.map { YearMonth($0.date) })
        if Set(earlierMonthTiers.map(\.month)) != monthsWithDays || earlierMonthTiers.map(\.month) != earlierMonthTiers.map(\.month).sorted() {
            violations.append("earlier months' tiers \(earlierMonthTiers.map(\.month)) do not match the months with days \(monthsWithDays.sorted())")
        }
        return violations
    }

    /// The tokens recorded for `date`: today's count or an earlier day's record.
    public func tokens(on date: CivilDay) -> Int64 {
        if date == day { return used }
        let index = history.partitioningIndex { $0.date >= date }
        return index < history.count && history[index].date == date && history[index].isRecord ? history[index].tokens : 0
    }
}

/// Why stored usage could not be rebuilt.
public struct UsageHistoryError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
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
