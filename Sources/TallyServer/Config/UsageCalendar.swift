import Foundation
import TallyLedger

/// Days in an IANA time zone: which day a moment falls on and when that day starts and ends,
/// so daily limits reset at local midnight, right across daylight-saving changes. Outside the
/// Ledger because the zone's rules come from the tz database (files); the Writer asks it and
/// journals the answer with each usage command.
///
/// Day boundaries fall on whole seconds, so a moment is placed by its whole second: 23:59:59.999
/// and 00:00:00.000 land on different days. Where a zone skips midnight (a DST change at 00:00),
/// the day starts at the first moment that exists.
public struct UsageCalendar: Sendable {
    public let zoneIdentifier: String
    private let calendar: Calendar

    public init?(zone identifier: String) {
        guard let zone = TimeZone(identifier: identifier) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        self.calendar = calendar
        self.zoneIdentifier = identifier
    }

    public static let utc = UsageCalendar(zone: "UTC")!

    public func day(containing moment: Timestamp) -> UsageDay {
        let seconds = moment >= 0 ? moment / 1_000_000 : (moment - 999_999) / 1_000_000  // floor
        let date = Date(timeIntervalSince1970: TimeInterval(seconds))
        let start = calendar.startOfDay(for: date)
        let next = calendar.date(byAdding: .day, value: 1, to: start).map(calendar.startOfDay(for:)) ?? start.addingTimeInterval(86_400)
        let parts = calendar.dateComponents([.year, .month, .day], from: start)
        return UsageDay(
            date: CivilDay(year: Int32(parts.year ?? 1970), month: UInt8(parts.month ?? 1), day: UInt8(parts.day ?? 1)),
            startsAt: Self.micros(start), endsAt: Self.micros(next))
    }

    private static func micros(_ date: Date) -> Timestamp {
        Timestamp(date.timeIntervalSince1970.rounded()) * 1_000_000
    }
}
