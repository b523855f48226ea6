/// A date on the calendar, without a time zone: the key of a user's daily usage record.
public struct CivilDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var year: Int32
    public var month: UInt8  // 1...12
    public var day: UInt8  // 1...31

    public init(year: Int32, month: UInt8, day: UInt8) {
        self.year = year
        self.month = month
        self.day = day
    }

    public static func < (a: CivilDay, b: CivilDay) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    /// Days since 1970-01-01 (negative before), for "older than N days" (H. Hinnant's algorithm).
    public var dayNumber: Int64 {
        let y = Int64(year) - (month <= 2 ? 1 : 0)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// "2024-01-15".
    public var description: String {
        let y = String(year), m = String(month), d = String(day)
        return String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + (m.count < 2 ? "0" : "") + m + "-"
            + (d.count < 2 ? "0" : "") + d
    }
}

/// One day in the configured time zone: its date and the half-open span of time it covers, in
/// microseconds since the Unix epoch. A day is 24 hours except across daylight-saving changes
/// (23 or 25), so the span comes from the zone's rules, worked out outside the Ledger and
/// journaled with each usage command: replay never depends on the tz database of the day.
public struct UsageDay: Hashable, Sendable {
    public var date: CivilDay
    public var startsAt: Timestamp
    /// The next day's start: when today's usage resets.
    public var endsAt: Timestamp

    public init(date: CivilDay, startsAt: Timestamp, endsAt: Timestamp) {
        self.date = date
        self.startsAt = startsAt
        self.endsAt = endsAt
    }

    public func contains(_ moment: Timestamp) -> Bool { startsAt <= moment && moment < endsAt }
}
