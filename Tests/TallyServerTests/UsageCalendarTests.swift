import Testing
import TallyLedger
import TallyServer
import TallyTestSupport

/// Days in time zones, for daily limits: every moment lies in exactly one day, days tile time
/// with no gap or overlap, each day is the calendar's next date, and days are 23 or 25 hours
/// across daylight-saving changes. Random moments come from a fixed seed, printed on failure.
@Suite struct UsageCalendarTests {
    static let hour: Int64 = 3_600_000_000
    static let zones = [
        "UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata",
        "Pacific/Chatham", "Asia/Tokyo",
    ]

    /// Micros at a UTC wall time (proleptic Gregorian), for readable expectations.
    static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0) -> Int64 {
        // Days from civil (Howard Hinnant's algorithm).
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Int64(((days * 24 + hour) * 60 + minute) * 60 + second) * 1_000_000
    }

    static func next(_ d: CivilDay) -> CivilDay {
        let leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0
        let lengths: [UInt8] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        if d.day < lengths[Int(d.month) - 1] { return CivilDay(year: d.year, month: d.month, day: d.day + 1) }
        if d.month < 12 { return CivilDay(year: d.year, month: d.month + 1, day: 1) }
        return CivilDay(year: d.year + 1, month: 1, day: 1)
    }

    @Test(arguments: zones) func daysTileTimeInOrder(zone: String) throws {
        let calendar = try #require(UsageCalendar(zone: zone))
        let seed: UInt64 = 0x7A11_CA1E
        var random = SplitMix64(seed: seed)
        let from = Self.utc(2000, 1, 1), to = Self.utc(2040, 1, 1)
        for _ in 0..<2_000 {
            let moment = from + Int64(random.next() % UInt64(to - from))
            let day = calendar.day(containing: moment)
            #expect(day.contains(moment), "seed \(seed), \(zone), \(moment)")
            let length = day.endsAt - day.startsAt
            // Lord Howe shifts by 30 minutes; everyone else by an hour.
            #expect([23 * Self.hour, 47 * Self.hour / 2, 24 * Self.hour, 49 * Self.hour / 2, 25 * Self.hour].contains(length),
                    "seed \(seed), \(zone), \(day): \(length) µs")
            let following = calendar.day(containing: day.endsAt)
            #expect(following.startsAt == day.endsAt, "seed \(seed), \(zone): no gap, no overlap after \(day.date)")
            #expect(following.date == Self.next(day.date), "seed \(seed), \(zone): \(day.date) then \(following.date)")
            #expect(calendar.day(containing: day.endsAt - 1).date == day.date, "the last microsecond is still that day")
        }
    }

    @Test func midnightSplitsDaysToTheMicrosecond() throws {
        let tokyo = try #require(UsageCalendar(zone: "Asia/Tokyo"))  // UTC+9, no DST
        let midnight = Self.utc(2024, 1, 15, 15)  // 2024-01-16 00:00 in Tokyo
        #expect(tokyo.day(containing: midnight - 1_000).date.description == "2024-01-15")  // 23:59:59.999
        #expect(tokyo.day(containing: midnight).date.description == "2024-01-16")
        #expect(tokyo.day(containing: midnight).startsAt == midnight)
    }

    @Test func daylightSavingDaysAre23And25Hours() throws {
        let newYork = try #require(UsageCalendar(zone: "America/New_York"))
        let spring = newYork.day(containing: Self.utc(2024, 3, 10, 12))
        #expect(spring.date.description == "2024-03-10" && spring.endsAt - spring.startsAt == 23 * Self.hour)
        #expect(spring.startsAt == Self.utc(2024, 3, 10, 5))  // midnight EST
        let autumn = newYork.day(containing: Self.utc(2024, 11, 3, 12))
        #expect(autumn.date.description == "2024-11-03" && autumn.endsAt - autumn.startsAt == 25 * Self.hour)
        let berlin = try #require(UsageCalendar(zone: "Europe/Berlin"))
        #expect(berlin.day(containing: Self.utc(2024, 3, 31, 12)).endsAt - berlin.day(containing: Self.utc(2024, 3, 31, 12)).startsAt
                == 23 * Self.hour)
    }

    @Test func aZoneThatSkipsMidnightStartsTheDayAtItsFirstMoment() throws {
        // Chile moved its clocks from 00:00 to 01:00 on 2024-09-08: that day has no midnight.
        let santiago = try #require(UsageCalendar(zone: "America/Santiago"))
        let day = santiago.day(containing: Self.utc(2024, 9, 8, 18))
        #expect(day.date.description == "2024-09-08")
        #expect(day.startsAt == Self.utc(2024, 9, 8, 4))  // 01:00 -03, the first moment that exists
        #expect(day.endsAt - day.startsAt == 23 * Self.hour)
    }

    @Test func unknownZoneIsRefused() {
        #expect(UsageCalendar(zone: "Mars/Olympus_Mons") == nil)
        #expect(UsageCalendar(zone: "") == nil)
    }
}
