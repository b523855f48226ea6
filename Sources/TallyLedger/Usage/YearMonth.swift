/// A month, for monthly aggregates.
public struct YearMonth: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var year: Int32
    public var month: UInt8

    public init(year: Int32, month: UInt8) {
        self.year = year
        self.month = month
    }

    public init(_ day: CivilDay) {
        self.init(year: day.year, month: day.month)
    }

    /// Parses "YYYY-MM"; nil for anything else.
    public init?(parsing text: String) {
        guard let day = CivilDay(parsing: text + "-01") else { return nil }
        self.init(day)
    }

    public static func < (a: YearMonth, b: YearMonth) -> Bool { (a.year, a.month) < (b.year, b.month) }

    public var description: String { String(CivilDay(year: year, month: month, day: 1).description.dropLast(3)) }
}
