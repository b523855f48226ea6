import Testing
import TallyLedger
import TallyTestSupport

func nextDate(_ d: CivilDay) -> CivilDay {
    let leap = (d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0
    let lengths: [UInt8] = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    if d.day < lengths[Int(d.month) - 1] { return CivilDay(year: d.year, month: d.month, day: d.day + 1) }
    return d.month < 12 ? CivilDay(year: d.year, month: d.month + 1, day: 1) : CivilDay(year: d.year + 1, month: 1, day: 1)
}

/// A UTC day, for tests that do not care about zones (UsageCalendarTests covers those).
func utcDay(_ year: Int32, _ month: UInt8, _ day: UInt8) -> UsageDay {
    let date = CivilDay(year: year, month: month, day: day)
    let start = date.dayNumber * 86_400 * Microseconds.perSecond
    return UsageDay(date: date, startsAt: start, endsAt: start + 86_400 * Microseconds.perSecond)
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }

    var value: Success? { try? get() }
}

@Suite struct UsageBookTests {
    let jan1 = utcDay(2024, 1, 1)

    @Test func exampleMonthAggregate() throws {
        var book = UsageBook()
        for (day, tokens) in [(1, 850), (2, 1200), (4, 2100), (5, 1750)] as [(UInt8, Int64)] {
            _ = try book.consume("abc123def456", tokens: tokens, on: utcDay(2024, 1, day)).get()
        }
        _ = book.status(of: "abc123def456", on: utcDay(2024, 1, 5))
        let month = try #require(book.usage(of: "abc123def456")?.months[YearMonth(year: 2024, month: 1)])
        #expect(month.total == 5900)
        #expect(month.averagePerDay == 1180)
        #expect(month.peak?.day == 4 && month.peak?.tokens == 2100)
        #expect(month.tier == "trial")
        #expect(YearMonth(year: 2024, month: 1).description == "2024-01")
    }

    /// Today's consumes reach the month by `months`, and a later settle sets the month's tier.
    @Test func todaysConsumesShowInTheirMonth() throws {
        var book = UsageBook()
        _ = try book.setTierLimit("pro", tokens: 1_000_000).get()
        _ = try book.consume("u", tokens: 100, on: utcDay(2024, 1, 30)).get()
        _ = try book.consume("u", tokens: 40, on: utcDay(2024, 1, 31)).get()
        _ = try book.consume("u", tokens: 2, on: utcDay(2024, 1, 31), tier: "pro").get()
        let user = try #require(book.usage(of: "u"))
        let january = try #require(user.months[YearMonth(year: 2024, month: 1)])
        #expect(january.total == 142 && january.days[30] == 100 && january.days[31] == 42 && january.tier == "pro")
        #expect(user.month(YearMonth(year: 2024, month: 1)) == january, "one month read alone reads the same")
        #expect(user.month(YearMonth(year: 2023, month: 12)) == nil)
        #expect(book.invariantViolations() == [])

        // A settle of a reservation made today counts today: the month's
        // tier is then the settle's (the last change), and every count stays.
        let reservation = try book.reserve("u", tokens: 5, on: utcDay(2024, 1, 31), at: 0, expiresAt: 10).get().0
        _ = try book.consume("u", tokens: 8, on: utcDay(2024, 1, 31), tier: "pro").get()
        _ = try book.settle(reservation.id, tokens: 5, on: utcDay(2024, 1, 31)).get()
        let settled = try #require(book.usage(of: "u")?.months[YearMonth(year: 2024, month: 1)])
        #expect(settled.total == 155 && settled.days[31] == 55 && settled.tier == UsageLimits().defaultTier)

        // The next day starts February; rebuilt from what it reads as (a snapshot's way), the
        // user compares equal.
        _ = try book.consume("u", tokens: 7, on: utcDay(2024, 2, 1)).get()
        let rolled = try #require(book.usage(of: "u"))
        #expect(rolled.months[YearMonth(year: 2024, month: 1)]?.total == 155)
        #expect(rolled.months[YearMonth(year: 2024, month: 2)]?.total == 7)
        let rebuilt = try UserUsage(
            limitOverride: rolled.limitOverride, shadow: rolled.shadow, day: rolled.day, used: rolled.used, reserved: rolled.reserved,
            shadowRefusals: rolled.shadowRefusals, days: rolled.days, months: rolled.months.map { ($0.key, $0.value) })
        #expect(rebuilt == rolled && rebuilt.layoutViolations() == [])
        #expect(book.invariantViolations() == [])
    }

    @Test func refusedPastTheLimitWithTheFiguresAndNothingChanged() throws {
        var book = UsageBook()
        let status = try book.consume("u", tokens: 9_000, on: jan1).get()
        #expect(status.used == 9_000 && status.limit == 10_000 && status.remaining == 1_000 && status.resetsAt == jan1.endsAt)
        let before = book
        let refusal = try #require(book.consume("u", tokens: 1_001, on: jan1).failure)
        #expect(refusal.code == .resourceExhausted && refusal.reason == "DAILY_LIMIT_EXCEEDED")
        #expect(refusal.details == [
            "used": "9000", "reserved": "0", "limit": "10000", "remaining": "1000", "requested": "1001",
            "resets_at_us": String(jan1.endsAt), "day": "2024-01-01",
        ])
        #expect(book == before)
        #expect(try book.consume("u", tokens: 1_000, on: jan1).get().remaining == 0)
        // Midnight: a new day, a new count; yesterday is a record.
        let jan2 = utcDay(2024, 1, 2)
        #expect(try book.consume("u", tokens: 10_000, on: jan2).get().used == 10_000)
        #expect(book.usage(of: "u")?.days[jan1.date] == 10_000)
    }

    @Test func reservationsHoldQuotaUntilSettledOrReleased() throws {
        var book = UsageBook()
        let (held, status) = try book.reserve("g", tokens: 6_000, on: jan1, at: jan1.startsAt, expiresAt: jan1.startsAt + 60 * second).get()
        #expect(status.reserved == 6_000 && status.remaining == 4_000)
        #expect(book.consume("g", tokens: 5_000, on: jan1).failure?.details["reserved"] == "6000")
        // Settled lower than the estimate: the rest comes back.
        let settled = try book.settle(held.id, tokens: 3_000, on: jan1).get().1
        #expect(settled.used == 3_000 && settled.reserved == 0 && settled.remaining == 7_000)
        #expect(book.settle(held.id, tokens: 1, on: jan1).failure?.reason == "RESERVATION_NOT_FOUND")
        // Settled higher than the estimate and the limit: charged in full (written policy).
        let (big, _) = try book.reserve("g", tokens: 7_000, on: jan1, at: jan1.startsAt, expiresAt: jan1.startsAt + 60 * second).get()
        let over = try book.settle(big.id, tokens: 9_000, on: jan1).get().1
        #expect(over.used == 12_000 && over.remaining == 0)
        #expect(book.consume("g", tokens: 1, on: jan1).failure?.reason == "DAILY_LIMIT_EXCEEDED")
        // Released: nothing counted.
        let jan2 = utcDay(2024, 1, 2)
        let (loose, _) = try book.reserve("g", tokens: 500, on: jan2, at: jan2.startsAt, expiresAt: jan2.startsAt + 60 * second).get()
        #expect(try book.release(loose.id, on: jan2).get().1.used == 0)
    }

    @Test func expiredReservationsAreReleasedAndALateSettleCountsOnItsDay() throws {
        var book = UsageBook()
        let late = jan1.endsAt - second
        let (a, _) = try book.reserve("g", tokens: 4_000, on: jan1, at: late, expiresAt: late + 30 * second).get()
        let (b, _) = try book.reserve("g", tokens: 1_000, on: jan1, at: late, expiresAt: late + 120 * second).get()
        let jan2 = utcDay(2024, 1, 2)
        #expect(book.expireReservations(at: late + 60 * second, on: jan2).map(\.id) == [a.id])
        #expect(book.reservations.count == 1)
        // b was made on Jan 1: settled after midnight, it counts on Jan 1, not against Jan 2.
        let status = try book.settle(b.id, tokens: 800, on: jan2).get().1
        #expect(status.used == 0 && status.date == jan2.date)
        #expect(book.usage(of: "g")?.days[jan1.date] == 800)
        #expect(book.usage(of: "g")?.months[YearMonth(year: 2024, month: 1)]?.days[1] == 800)
    }

    @Test func tiersOverridesAndShadowMode() throws {
        var book = UsageBook()
        // The tier is the user's membership tier, which the Ledger passes in.
        #expect(book.status(of: "s", on: jan1, tier: "subscribed").limit == 100_000)
        #expect(book.status(of: "x", on: jan1, tier: "no-such-tier").tier == "trial", "an unknown tier falls back to the default")
        try book.setUserLimit("s", tokens: 50).get()
        #expect(book.consume("s", tokens: 51, on: jan1, tier: "subscribed").failure != nil)
        try book.setTierLimit("trial", tokens: 100).get()
        #expect(book.setTierLimit("trial", tokens: nil).failure?.reason == "DEFAULT_TIER_NEEDS_LIMIT")
        #expect(book.setTierLimit("trial", tokens: -1).failure?.reason == "LIMIT_NEGATIVE")
        book.setShadow(tier: "trial", true)
        let shadowed = try book.consume("t", tokens: 150, on: jan1).get()
        #expect(shadowed.shadow && shadowed.used == 150 && shadowed.remaining == 0)
        #expect(book.usage(of: "t")?.shadowRefusals == 1)
        book.setShadow(tier: "trial", false)
        #expect(book.consume("t", tokens: 1, on: jan1).failure != nil)
    }

    @Test func badInputIsRefusedAndChangesNothing() {
        var book = UsageBook()
        let before = book
        #expect(book.consume("", tokens: 1, on: jan1).failure?.reason == "USER_ID_EMPTY")
        #expect(book.consume("u", tokens: 0, on: jan1).failure?.reason == "AMOUNT_NOT_POSITIVE")
        #expect(book.consume("u", tokens: .max, on: jan1).failure?.reason == "DAILY_LIMIT_EXCEEDED")
        #expect(book.reserve("u", tokens: 1, on: jan1, at: 10, expiresAt: 10).failure?.reason == "TTL_NOT_POSITIVE")
        #expect(book.settle(99, tokens: 1, on: jan1).failure?.reason == "RESERVATION_NOT_FOUND")
        #expect(book == before)
    }

    @Test func retentionDropsOldDaysButTheirMonthsRemain() throws {
        var book = UsageBook()
        _ = try book.consume("r", tokens: 10, on: utcDay(2024, 1, 1)).get()
        _ = try book.consume("r", tokens: 20, on: utcDay(2024, 2, 10)).get()  // 40 days later
        let user = try #require(book.usage(of: "r"))
        #expect(user.days[CivilDay(year: 2024, month: 1, day: 1)] == nil, "past 35 days")
        #expect(user.months[YearMonth(year: 2024, month: 1)]?.total == 10)
        _ = try book.consume("r", tokens: 5, on: utcDay(2025, 2, 1)).get()  // 13 months on
        #expect(book.usage(of: "r")?.months[YearMonth(year: 2024, month: 1)] == nil)
        #expect(book.usage(of: "r")?.months[YearMonth(year: 2024, month: 2)]?.total == 20)
    }

    /// Random consumes, reservations, settles, releases and expiries for a few users over a few
    /// weeks, checked against a plain model: per-day totals are the sum of what was counted,
    /// monthly aggregates agree with the daily records, and an admitted consume or reservation
    /// never takes a user past the limit (only a settle may, by the written policy).
    @Test(arguments: [UInt64(1), 2, 3, 0xDA11_7]) func propertiesHoldForRandomTraffic(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var book = UsageBook(limits: UsageLimits(tiers: ["trial": 1_000, "subscribed": 5_000]))
        let users = ["u0", "u1", "u2"]
        func tier(_ user: String) -> ExactString? { user == "u1" ? "subscribed" : nil }
        var counted: [String: [CivilDay: Int64]] = [:]
        var date = CivilDay(year: 2024, month: 1, day: 20)
        var now: Timestamp = 0
        for step in 0..<3_000 {
            if random.chance(2) { date = nextDate(date) }  // about 60 days: past the 35-day retention
            let day = utcDay(date.year, date.month, date.day)
            now = max(now + 1, day.startsAt + Int64(step % 1000) * second)
            let user = random.pick(users)
            switch Int.random(in: 0..<5, using: &random) {
            case 0, 1:
                let tokens = Int64.random(in: 1...400, using: &random)
                if case .success(let status) = book.consume(user, tokens: tokens, on: day, tier: tier(user)) {
                    counted[user, default: [:]][day.date, default: 0] += tokens
                    #expect(status.used + status.reserved <= status.limit, "seed \(seed) step \(step)")
                }
            case 2:
                let tokens = Int64.random(in: 1...400, using: &random)
                if case .success(let (_, status)) = book.reserve(
                    user, tokens: tokens, on: day, at: now, expiresAt: now + 90 * second, tier: tier(user))
                {
                    #expect(status.used + status.reserved <= status.limit, "seed \(seed) step \(step)")
                }
            case 3:
                if let open = book.reservations.values.filter({ $0.userID.value == user }).first {
                    let tokens = Int64.random(in: 0...500, using: &random)
                    if case .success(let (reservation, _)) = book.settle(open.id, tokens: tokens, on: day, tier: tier(user)) {
                        counted[user, default: [:]][reservation.day, default: 0] += tokens
                    }
                }
            default:
                _ = book.expireReservations(at: now, on: day)
            }
        }
        for user in users {
            guard let usage = book.usage(of: user) else { continue }
            let today = try #require(usage.day)
            for (date, tokens) in counted[user] ?? [:] {
                let kept = today.dayNumber - date.dayNumber < book.retention.days
                #expect(usage.tokens(on: date) == (kept ? tokens : 0), "seed \(seed): \(user) on \(date)")
            }
            for (month, aggregate) in usage.months {
                let fromDays = (counted[user] ?? [:]).filter { YearMonth($0.key) == month }
                #expect(aggregate.total == fromDays.values.reduce(0, +), "seed \(seed): \(user) \(month)")
                for (date, tokens) in fromDays where tokens > 0 { #expect(aggregate.days[date.day] == tokens) }
            }
            // Today's reserved equals the open reservations made today.
            let open = book.reservations.values.filter { $0.userID.value == user && $0.day == usage.day }.map(\.tokens).reduce(0, +)
            #expect(usage.reserved == open, "seed \(seed): \(user) reserved")
        }
    }
}

@Suite struct UsageQueryTests {
    @Test func topUsersOfADayAndAMonthByTier() throws {
        var book = UsageBook()
        let jan5 = utcDay(2024, 1, 5), jan6 = utcDay(2024, 1, 6)
        for (user, tokens) in [("alice", 300), ("bob", 900), ("carol", 900), ("dave", 50)] as [(String, Int64)] {
            _ = try book.consume(user, tokens: tokens, on: jan5, tier: user == "carol" ? "subscribed" : nil).get()
        }
        _ = try book.consume("alice", tokens: 5_000, on: jan6).get()  // alice's Jan 5 is now a record
        #expect(book.topUsers(on: jan5.date, limit: 3) == [
            .init(userID: "bob", tokens: 900), .init(userID: "carol", tokens: 900), .init(userID: "alice", tokens: 300),
        ])
        #expect(book.topUsers(on: jan6.date, limit: 10) == [.init(userID: "alice", tokens: 5_000)])
        #expect(book.topUsers(on: utcDay(2024, 1, 7).date, limit: 10).isEmpty)
        let tiers = book.monthByTier(YearMonth(year: 2024, month: 1))
        #expect(tiers.map(\.tier) == ["subscribed", "trial"])
        #expect(tiers[0].users == 1 && tiers[0].total == 900 && tiers[0].averagePerUser == 900)
        #expect(tiers[1].users == 3 && tiers[1].total == 6_250 && tiers[1].averagePerUser == 2_083)
    }

    @Test func lastMonthsNewestFirst() throws {
        var book = UsageBook()
        for month in UInt8(1)...4 { _ = try book.consume("m", tokens: Int64(month) * 10, on: utcDay(2024, month, 2)).get() }
        let months = book.months(of: "m", last: 2)
        #expect(months.map(\.month.description) == ["2024-04", "2024-03"])
        #expect(months.map(\.usage.total) == [40, 30])
        #expect(book.months(of: "nobody", last: 3).isEmpty)
    }
}
