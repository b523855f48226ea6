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

    /// The day `dayNumber` days after 1970-01-01 (H. Hinnant's algorithm, the inverse of `dayNumber`).
    public init(dayNumber: Int64) {
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        self.init(year: Int32(clamping: y), month: UInt8(m), day: UInt8(d))
    }

    /// Parses "YYYY-MM-DD" (a real date; the year has four digits or more, and a sign if
    /// negative, as `description` writes it); nil for anything else.
    public init?(parsing text: String) {
        var rest = Substring(text)
        let negative = rest.first == "-"
        if negative { rest = rest.dropFirst() }
        let parts = rest.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count >= 4, parts[0].count <= 10, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }),
            let magnitude = Int64(parts[0]), let year = Int32(exactly: negative ? -magnitude : magnitude),
            let month = UInt8(parts[1]), let day = UInt8(parts[2])
        else { return nil }
        self.init(checkedYear: year, month: month, day: day)
    }

    /// A day of the calendar, or nil for one that is not (February 30th, month 13).
    public init?(checkedYear year: Int32, month: UInt8, day: UInt8) {
        self.init(year: year, month: month, day: day)
        guard (1...12).contains(month), day >= 1, CivilDay(dayNumber: dayNumber) == self else { return nil }
    }

    /// "2024-01-15".
    public var description: String {
        // Every usage answer carries its date: the common four-digit year is written as ten
        // ASCII bytes into a small string (no allocation), not joined from five Strings.
        if (0...9_999).contains(year), month <= 99, day <= 99 {
            let y = Int(year), m = Int(month), d = Int(day)
            return String(unsafeUninitializedCapacity: 10) { bytes in
                func digit(_ value: Int) -> UInt8 { UInt8(truncatingIfNeeded: 48 + value) }
                bytes[0] = digit(y / 1000)
                bytes[1] = digit(y / 100 % 10)
                bytes[2] = digit(y / 10 % 10)
                bytes[3] = digit(y % 10)
                bytes[4] = UInt8(ascii: "-")
                bytes[5] = digit(m / 10)
                bytes[6] = digit(m % 10)
                bytes[7] = UInt8(ascii: "-")
                bytes[8] = digit(d / 10)
                bytes[9] = digit(d % 10)
                return 10
            }
        }
        let y = String(year.magnitude), m = String(month), d = String(day)
        return (year < 0 ? "-" : "") + String(repeating: "0", count: max(0, 4 - y.count)) + y + "-" + (m.count < 2 ? "0" : "")
            + m + "-" + (d.count < 2 ? "0" : "") + d
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

    /// The UTC day holding `moment`: pure arithmetic, for a Ledger given no day of another zone.
    public static func utc(containing moment: Timestamp) -> UsageDay {
        let microsPerDay: Int64 = 86_400_000_000
        let number = moment >= 0 ? moment / microsPerDay : (moment + 1) / microsPerDay - 1  // floor
        let (start, startOverflow) = number.multipliedReportingOverflow(by: microsPerDay)
        let (end, endOverflow) = start.addingReportingOverflow(microsPerDay)
        return UsageDay(
            date: CivilDay(dayNumber: number), startsAt: startOverflow ? .min : start,
            endsAt: startOverflow || endOverflow ? .max : end)
    }
}
