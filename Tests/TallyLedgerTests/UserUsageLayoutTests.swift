import Testing
import TallyLedger

/// A user's usage is stored as one list of earlier days (records and months' days together),
/// today's count, and months' tiers; `days` and `months` are built from it. These check the
/// layout against what the views must read over months of consumes and late settles, and
/// that a stored user whose parts disagree is refused rather than silently merged.
@Suite struct UserUsageLayoutTests {
    static let january = YearMonth(year: 2024, month: 1)

    @Test func viewsReadWhatWasCountedAcrossMonthsAndRetention() throws {
        var book = UsageBook(retention: UsageRetention(days: 5, months: 2))
        _ = try book.setTierLimit("pro", tokens: 1_000_000).get()
        var day = CivilDay(year: 2024, month: 1, day: 28)
        var expected: [CivilDay: Int64] = [:]  // every day's tokens, ever
        var reservation: Reservation?
        for step in 0..<70 {
            let usageDay = utcDay(day.year, day.month, day.day)
            let tokens = Int64(10 + step)
            _ = try book.consume("u", tokens: tokens, on: usageDay, tier: step % 3 == 0 ? "pro" : nil).get()
            expected[day, default: 0] += tokens
            // A reservation made today and settled days later lands on the day it was made.
            if let open = reservation, step % 4 == 2 {
                _ = try book.settle(open.id, tokens: 7, on: usageDay).get()
                expected[open.day, default: 0] += 7
                reservation = nil
            } else if reservation == nil {
                reservation = try book.reserve("u", tokens: 3, on: usageDay, at: 0, expiresAt: .max).get().0
            }
            let user = try #require(book.usage(of: "u"))
            #expect(user.layoutViolations() == [], "step \(step)")
            #expect(book.invariantViolations() == [], "step \(step)")
            // Records: the 4 days before today. Months: this one and the one before.
            for back in 1...8 {
                let earlier = CivilDay(dayNumber: day.dayNumber - Int64(back))
                #expect(user.days[earlier] == (back < 5 ? expected[earlier] : nil), "step \(step), \(earlier)")
            }
            for (month, usage) in user.months {
                let days = expected.filter { YearMonth($0.key) == month }
                #expect(usage.total == days.values.reduce(0, +), "step \(step), \(month)")
                #expect(usage.days.count == days.count)
                #expect(user.month(month) == usage)
            }
            let thisMonth = YearMonth(day)
            #expect(Set(user.months.map(\.key)).isSubset(of: [thisMonth, YearMonth(CivilDay(dayNumber: CivilDay(year: thisMonth.year, month: thisMonth.month, day: 1).dayNumber - 1))]))
            #expect(user.months[thisMonth]?.days[day.day] == expected[day])
            day = CivilDay(dayNumber: day.dayNumber + 1)
        }
    }

    /// Every user of a gateway holds one: its size is most of what a user costs
    /// (docs/benchmarks.md, "Memory per user").
    @Test func theFieldsPackWithoutPadding() {
        #expect(MemoryLayout<UserUsage>.stride == 80)
    }

    /// Earlier days are packed (date and flags in 4 bytes, tokens in two halves): counts that
    /// need the high half, and years far from today, read back as they were counted.
    @Test func packedDaysKeepLargeCountsAndDistantYears() throws {
        var book = UsageBook()
        _ = try book.setTierLimit("trial", tokens: .max).get()
        for year: Int32 in [-4_000, 1970, 250_000] {
            let big = Int64.max / 3 + Int64(year)
            let next = CivilDay(dayNumber: CivilDay(year: year, month: 2, day: 28).dayNumber + 1)
            _ = try book.consume("u\(year)", tokens: big, on: utcDay(year, 2, 28)).get()
            _ = try book.consume("u\(year)", tokens: 1, on: utcDay(next.year, next.month, next.day)).get()
        }
        for year: Int32 in [-4_000, 1970, 250_000] {
            let user = try #require(book.usage(of: "u\(year)"))
            let day = CivilDay(year: year, month: 2, day: 28)
            #expect(user.days[day] == Int64.max / 3 + Int64(year), "\(year)")
            #expect(user.months[YearMonth(year: year, month: 2)]?.days[28] == Int64.max / 3 + Int64(year))
            #expect(user.layoutViolations() == [])
        }
    }

    @Test func aMonthKeepsTheTierOfItsLastCount() throws {
        var book = UsageBook()
        _ = try book.setTierLimit("pro", tokens: 1_000_000).get()
        let reservation = try book.reserve("u", tokens: 5, on: utcDay(2024, 1, 31), at: 0, expiresAt: .max).get().0
        _ = try book.consume("u", tokens: 9, on: utcDay(2024, 1, 31), tier: "pro").get()
        _ = try book.consume("u", tokens: 4, on: utcDay(2024, 2, 1), tier: "pro").get()
        #expect(book.usage(of: "u")?.months[Self.january]?.tier == "pro")
        // Settled in February with no tier: January's aggregate takes the default tier.
        _ = try book.settle(reservation.id, tokens: 6, on: utcDay(2024, 2, 1)).get()
        let user = try #require(book.usage(of: "u"))
        #expect(user.months[Self.january]?.tier == UsageLimits().defaultTier && user.months[Self.january]?.total == 15)
        #expect(user.months[YearMonth(year: 2024, month: 2)]?.tier == "pro")
        #expect(user.days[CivilDay(year: 2024, month: 1, day: 31)] == 15 && user.layoutViolations() == [])
    }

    @Test func storedPartsThatDisagreeAreRefused() throws {
        let today = CivilDay(year: 2024, month: 1, day: 20)
        let yesterday = CivilDay(year: 2024, month: 1, day: 19)
        func month(_ days: [UInt8: Int64], total: Int64? = nil) -> MonthUsage {
            var usage = MonthUsage(tier: "trial")
            for (day, tokens) in days { usage.days[day] = tokens }
            usage.total = total ?? days.values.reduce(0, +)
            return usage
        }
        func build(used: Int64 = 5, days: DayTokens<CivilDay>, months: [(YearMonth, MonthUsage)], day: CivilDay? = today) throws {
            _ = try UserUsage(
                limitOverride: nil, shadow: false, day: day, used: used, reserved: 0, shadowRefusals: 0, days: days,
                months: months.map { (month: $0.0, usage: $0.1) })
        }
        // Consistent: builds.
        try build(days: [yesterday: 3], months: [(Self.january, month([19: 3, 20: 5]))])
        let refusals: [(String, () throws -> Void)] = [
            ("a record and its month differ", { try build(days: [yesterday: 3], months: [(Self.january, month([19: 4, 20: 5]))]) }),
            ("a month's total is not its days' sum", { try build(days: [:], months: [(Self.january, month([20: 5], total: 6))]) }),
            ("today's count is not in its month", { try build(days: [:], months: []) }),
            ("today's count differs from its month's", { try build(days: [:], months: [(Self.january, month([20: 4]))]) }),
            ("a record on today", { try build(used: 0, days: [today: 2], months: []) }),
            ("a month's day after today", { try build(used: 0, days: [:], months: [(Self.january, month([21: 2]))]) }),
            ("a day no calendar has", { try build(used: 0, days: [:], months: [(YearMonth(year: 2023, month: 2), month([30: 2]))]) }),
            ("records without a day", { try build(used: 0, days: [yesterday: 1], months: [], day: nil) }),
        ]
        for (what, attempt) in refusals {
            #expect(throws: UsageHistoryError.self, "\(what)") { try attempt() }
        }
    }
}
