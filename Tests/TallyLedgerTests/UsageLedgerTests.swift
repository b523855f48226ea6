import TallyLedger
import Testing

/// Daily limits through `Ledger.apply`, the path the Writer uses (UsageBookTests covers the
/// book on its own): idempotency of usage commands, refusals that change nothing and say why,
/// reservations from reserve to settle, release or expiry, every limit change, validation,
/// and an example month.
@Suite struct UsageLedgerTests {
    /// 2024-01-15 (UTC), the day of the example month.
    static let jan15 = utcDay(2024, 1, 15)
    static let jan16 = utcDay(2024, 1, 16)
    /// 14:30 on Jan 15, as in the example's lastUpdated.
    static let afternoon = jan15.startsAt + 14 * Microseconds.perHour + 30 * 60 * second

    static func consume(_ user: String, _ tokens: Int64, key: String = "") -> Command {
        .consume(Consume(userID: user, tokens: tokens, idempotencyKey: key))
    }

    static func reserve(_ user: String, _ tokens: Int64, ttlMs: UInt32 = 0, key: String = "") -> Command {
        .reserve(Reserve(userID: user, tokens: tokens, ttlMilliseconds: ttlMs, idempotencyKey: key))
    }

    /// Applies a usage command that must be accepted: its receipt.
    @discardableResult
    static func accepted(
        _ ledger: inout Ledger, _ command: Command, at now: Timestamp, on day: UsageDay?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> UsageReceipt {
        let applied = ledger.apply(command, at: now, day: day)
        #expect(!applied.replayed && applied.changedState, "\(command): \(applied)", sourceLocation: sourceLocation)
        #expect(ledger.invariantViolations() == [], sourceLocation: sourceLocation)
        guard case .usage(let receipt) = applied.outcome else {
            Issue.record("expected a usage receipt for \(command), got \(applied.outcome)", sourceLocation: sourceLocation)
            throw Refused()
        }
        return receipt
    }

    /// Applies a command that must be refused with `reason` and change nothing at all.
    @discardableResult
    static func refused(
        _ ledger: inout Ledger, _ command: Command, at now: Timestamp, on day: UsageDay?, _ code: Refusal.Code, _ reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Refusal {
        let before = ledger
        let applied = ledger.apply(command, at: now, day: day)
        let refusal = try #require(applied.refusal, "expected \(reason) for \(command), got \(applied.outcome)", sourceLocation: sourceLocation)
        #expect(refusal.code == code && refusal.reason == reason, "\(refusal)", sourceLocation: sourceLocation)
        #expect(!applied.replayed && !applied.changedState, sourceLocation: sourceLocation)
        #expect(ledger == before, "a refused \(command) changed the ledger", sourceLocation: sourceLocation)
        #expect(!refusal.message.isEmpty, sourceLocation: sourceLocation)
        return refusal
    }

    struct Refused: Error {}

    // MARK: Idempotency

    @Test func aRetriedConsumeAnswersTheSameAndCountsOnceEvenOnTheNextDay() throws {
        var ledger = Ledger()
        let first = ledger.apply(Self.consume("gw-user", 1_250, key: "msg-1"), at: Self.afternoon, day: Self.jan15)
        guard case .usage(let receipt) = first.outcome else { throw Refused() }
        #expect(!first.replayed && first.changedState)
        #expect(receipt.status.used == 1_250 && receipt.status.limit == 10_000 && receipt.status.remaining == 8_750)
        #expect(receipt.status.resetsAt == Self.jan16.startsAt && receipt.status.date == Self.jan15.date)
        #expect(receipt.reservation == nil)

        // The same request again, the same day: the first answer, nothing counted twice.
        let sameDay = ledger.apply(Self.consume("gw-user", 1_250, key: "msg-1"), at: Self.afternoon + second, day: Self.jan15)
        #expect(sameDay.replayed && sameDay.outcome == first.outcome)
        #expect(ledger.usageStatus(of: "gw-user", on: Self.jan15).used == 1_250)

        // After midnight (within the key's 24 hours): still the same request, answered as it was
        // (Jan 15's figures), and Jan 16 has nothing.
        let nextDay = Self.jan16.startsAt + 2 * Microseconds.perHour
        let before = ledger.usage
        let retried = ledger.apply(Self.consume("gw-user", 1_250, key: "msg-1"), at: nextDay, day: Self.jan16)
        #expect(retried.replayed && retried.outcome == first.outcome)
        #expect(ledger.usage == before, "a replay changed usage")
        #expect(ledger.usageStatus(of: "gw-user", on: Self.jan16).used == 0)
        #expect(ledger.usage.usage(of: "gw-user")?.tokens(on: Self.jan15.date) == 1_250)
        #expect(ledger.usage.usage(of: "gw-user")?.months[YearMonth(year: 2024, month: 1)]?.total == 1_250)

        // The same key for another request: refused, nothing counted, on either day.
        for (tokens, user) in [(1_251, "gw-user"), (1_250, "other-user")] as [(Int64, String)] {
            let refusal = try Self.refused(
                &ledger, Self.consume(user, tokens, key: "msg-1"), at: nextDay + second, on: Self.jan16, .alreadyExists,
                "IDEMPOTENCY_KEY_CONFLICT")
            #expect(refusal.details == ["idempotency_key": "msg-1"])
        }

        // Once the key is forgotten (24 hours after first seen), the same body is a new request.
        let later = Self.afternoon + LedgerConfig().idempotencyTTL
        let day = utcDay(2024, 1, 16)
        let again = try Self.accepted(&ledger, Self.consume("gw-user", 1_250, key: "msg-1"), at: later, on: day)
        #expect(again.status.used == 1_250 && again.status.date == day.date)
        #expect(ledger.usage.usage(of: "gw-user")?.months[YearMonth(year: 2024, month: 1)]?.total == 2_500)
        #expect(ledger.invariantViolations() == [])
    }

    @Test func aRetriedReserveHoldsOnceAndARetriedSettleChargesOnce() throws {
        var ledger = Ledger()
        let now = Self.afternoon
        let made = try Self.accepted(&ledger, Self.reserve("u", 4_000, ttlMs: 120_000, key: "call-7"), at: now, on: Self.jan15)
        let reservation = try #require(made.reservation)
        let retry = ledger.apply(Self.reserve("u", 4_000, ttlMs: 120_000, key: "call-7"), at: now + 1, day: Self.jan15)
        #expect(retry.replayed && retry.outcome == .usage(made))
        #expect(ledger.usage.reservations.count == 1 && ledger.usageStatus(of: "u", on: Self.jan15).reserved == 4_000)

        let settle = Command.settle(Settle(reservationID: reservation.id, tokens: 3_100, idempotencyKey: "call-7-done"))
        let settled = try Self.accepted(&ledger, settle, at: now + 2, on: Self.jan15)
        #expect(settled.status.used == 3_100 && settled.status.reserved == 0)
        // Retried after the reservation is gone: the first answer, not RESERVATION_NOT_FOUND.
        let again = ledger.apply(settle, at: now + 3, day: Self.jan15)
        #expect(again.replayed && again.outcome == .usage(settled))
        #expect(ledger.usageStatus(of: "u", on: Self.jan15).used == 3_100)
        // The same settle without a key is a new request, and there is nothing left to settle.
        try Self.refused(
            &ledger, .settle(Settle(reservationID: reservation.id, tokens: 3_100)), at: now + 4, on: Self.jan15, .notFound,
            "RESERVATION_NOT_FOUND")
    }

    // MARK: Refusals

    @Test func refusalsChangeNothingAndCarryTheFigures() throws {
        var ledger = Ledger()
        let now = Self.afternoon
        try Self.accepted(&ledger, Self.consume("u", 9_000), at: now, on: Self.jan15)
        try Self.accepted(&ledger, Self.reserve("u", 600), at: now + 1, on: Self.jan15)
        for (step, command) in [Self.consume("u", 401), Self.reserve("u", 401)].enumerated() {
            let refusal = try Self.refused(
                &ledger, command, at: now + 2 + Int64(step), on: Self.jan15, .resourceExhausted, "DAILY_LIMIT_EXCEEDED")
            #expect(refusal.details == [
                "used": "9000", "reserved": "600", "limit": "10000", "remaining": "400", "requested": "401",
                "resets_at_us": String(Self.jan16.startsAt), "day": "2024-01-15",
            ])
        }
        // Exactly what remains fits.
        #expect(try Self.accepted(&ledger, Self.consume("u", 400), at: now + 5, on: Self.jan15).status.remaining == 0)

        // A refusal with a key changes nothing but the key's record, and a retry gets the same
        // refusal even once the request would fit (a retry never flips an answer).
        let before = ledger
        let keyed = ledger.apply(Self.consume("u", 50, key: "late"), at: now + 6, day: Self.jan15)
        #expect(keyed.refusal?.reason == "DAILY_LIMIT_EXCEEDED" && !keyed.replayed && keyed.changedState)
        #expect(ledger.usage == before.usage && ledger.accounts == before.accounts && ledger.transactions == before.transactions)
        #expect(ledger.idempotency.records.count == before.idempotency.records.count + 1)
        #expect(ledger.apply(.changeUsage(.userLimit(userID: "u", tokens: 20_000)), at: now + 7).changedState)
        #expect(ledger.usageStatus(of: "u", on: Self.jan15).remaining == 10_000)  // 9400 used, 600 reserved
        let retried = ledger.apply(Self.consume("u", 50, key: "late"), at: now + 8, day: Self.jan15)
        #expect(retried.replayed && retried.outcome == keyed.outcome)
        #expect(ledger.usageStatus(of: "u", on: Self.jan15).used == 9_400)
        #expect(ledger.invariantViolations() == [])
    }

    @Test func aRefusalSaysWhenTheZonesDayEnds() throws {
        var ledger = Ledger()
        // In a zone whose day is 23 hours long, resets_at_us is that day's end, whatever UTC says.
        let short = UsageDay(
            date: CivilDay(year: 2024, month: 3, day: 10), startsAt: 1_710_046_800_000_000, endsAt: 1_710_129_600_000_000)
        try Self.accepted(&ledger, Self.consume("ny", 10_000), at: short.endsAt - 1_000, on: short)
        let atTheEnd = try Self.refused(&ledger, Self.consume("ny", 1), at: short.endsAt - 1, on: short, .resourceExhausted, "DAILY_LIMIT_EXCEEDED")
        #expect(atTheEnd.details["resets_at_us"] == "1710129600000000" && atTheEnd.details["day"] == "2024-03-10")
        #expect(atTheEnd.details["remaining"] == "0")
    }

    // MARK: Reservations

    @Test func reserveThenSettleOverOrUnderTheEstimateReleaseOrExpire() throws {
        var ledger = Ledger()
        var now = Self.afternoon
        func tick() -> Timestamp {
            now += second
            return now
        }

        // Default time-to-live: 60 s.
        let held = try #require(try Self.accepted(&ledger, Self.reserve("g", 2_000), at: tick(), on: Self.jan15).reservation)
        #expect(held.expiresAt == held.createdAt + 60 * second && held.createdAt == now && held.day == Self.jan15.date)
        #expect(held.userID == "g" && held.tokens == 2_000)
        #expect(ledger.usageStatus(of: "g", on: Self.jan15).remaining == 8_000)

        // Settled over the estimate: charged in full.
        let over = try Self.accepted(&ledger, .settle(Settle(reservationID: held.id, tokens: 2_500)), at: tick(), on: Self.jan15)
        #expect(over.reservation == held && over.status.used == 2_500 && over.status.reserved == 0 && over.status.remaining == 7_500)

        // Settled past the limit itself: still charged in full (the written policy); then
        // nothing more fits today.
        let big = try #require(try Self.accepted(&ledger, Self.reserve("g", 7_000), at: tick(), on: Self.jan15).reservation)
        let past = try Self.accepted(&ledger, .settle(Settle(reservationID: big.id, tokens: 12_000)), at: tick(), on: Self.jan15)
        #expect(past.status.used == 14_500 && past.status.remaining == 0 && past.status.limit == 10_000)
        let refusal = try Self.refused(&ledger, Self.consume("g", 1), at: tick(), on: Self.jan15, .resourceExhausted, "DAILY_LIMIT_EXCEEDED")
        #expect(refusal.details["used"] == "14500" && refusal.details["remaining"] == "0")

        // The next day: settled under the estimate, the rest comes back.
        now = Self.jan16.startsAt
        let small = try #require(try Self.accepted(&ledger, Self.reserve("g", 5_000), at: tick(), on: Self.jan16).reservation)
        let under = try Self.accepted(&ledger, .settle(Settle(reservationID: small.id, tokens: 1_200)), at: tick(), on: Self.jan16)
        #expect(under.status.used == 1_200 && under.status.reserved == 0 && under.status.remaining == 8_800)
        #expect(ledger.usage.usage(of: "g")?.days[Self.jan15.date] == 14_500)

        // Settled with 0: accepted, nothing counted.
        let zero = try #require(try Self.accepted(&ledger, Self.reserve("g", 300), at: tick(), on: Self.jan16).reservation)
        #expect(try Self.accepted(&ledger, .settle(Settle(reservationID: zero.id, tokens: 0)), at: tick(), on: Self.jan16).status.used == 1_200)

        // Released: nothing counted, the quota is back; a second release finds nothing.
        let loose = try #require(try Self.accepted(&ledger, Self.reserve("g", 3_000), at: tick(), on: Self.jan16).reservation)
        let released = try Self.accepted(&ledger, .release(Release(reservationID: loose.id)), at: tick(), on: Self.jan16)
        #expect(released.reservation == loose && released.status.used == 1_200 && released.status.reserved == 0)
        try Self.refused(&ledger, .release(Release(reservationID: loose.id)), at: tick(), on: Self.jan16, .notFound, "RESERVATION_NOT_FOUND")

        // Expired by the tick at its expiry, not a microsecond before.
        let made = tick()
        let brief = try #require(try Self.accepted(&ledger, Self.reserve("g", 1_000, ttlMs: 5_000), at: made, on: Self.jan16).reservation)
        let lasting = try #require(try Self.accepted(&ledger, Self.reserve("g", 700, ttlMs: 3_600_000), at: made + 1, on: Self.jan16).reservation)
        #expect(brief.expiresAt == made + 5 * second && lasting.expiresAt == made + 1 + 3_600 * second)
        let early = ledger.apply(.expireReservations, at: brief.expiresAt - 1, day: Self.jan16)
        #expect(early.outcome == .expired([]) && !early.changedState)
        #expect(ledger.usage.reservations[brief.id] == brief && ledger.usageStatus(of: "g", on: Self.jan16).reserved == 1_700)
        let due = ledger.apply(.expireReservations, at: brief.expiresAt, day: Self.jan16)
        #expect(due.outcome == .expired([brief]) && due.changedState && !due.replayed)
        #expect(ledger.usage.reservations[brief.id] == nil && ledger.usage.reservations[lasting.id] == lasting)
        #expect(ledger.usageStatus(of: "g", on: Self.jan16).reserved == 700 && ledger.usageStatus(of: "g", on: Self.jan16).used == 1_200)
        #expect(ledger.invariantViolations() == [])
        let gone = try Self.refused(
            &ledger, .settle(Settle(reservationID: brief.id, tokens: 10)), at: brief.expiresAt + 1, on: Self.jan16, .notFound,
            "RESERVATION_NOT_FOUND")
        #expect(gone.details == ["reservation_id": String(brief.id)])
        now = brief.expiresAt + 1

        // A settle of an id never made.
        let unknown = try Self.refused(
            &ledger, .settle(Settle(reservationID: 999, tokens: 1)), at: tick(), on: Self.jan16, .notFound, "RESERVATION_NOT_FOUND")
        #expect(unknown.details == ["reservation_id": "999"])
        #expect(unknown.message.contains("999"))
    }

    @Test func aReservationMadeBeforeMidnightCountsOnItsDayWhenSettledAfter() throws {
        var ledger = Ledger()
        let late = Self.jan16.startsAt - 1  // 23:59:59.999999
        let held = try #require(try Self.accepted(&ledger, Self.reserve("n", 6_000), at: late, on: Self.jan15).reservation)
        #expect(held.day == Self.jan15.date)
        // Just after midnight the new day has its whole quota: the reservation held yesterday's.
        let fresh = try Self.accepted(&ledger, Self.consume("n", 10_000), at: Self.jan16.startsAt, on: Self.jan16)
        #expect(fresh.status.used == 10_000 && fresh.status.reserved == 0 && fresh.status.resetsAt == utcDay(2024, 1, 17).startsAt)
        let settled = try Self.accepted(&ledger, .settle(Settle(reservationID: held.id, tokens: 6_500)), at: Self.jan16.startsAt + 1, on: Self.jan16)
        #expect(settled.status.used == 10_000 && settled.status.date == Self.jan16.date)
        let user = try #require(ledger.usage.usage(of: "n"))
        #expect(user.days[Self.jan15.date] == 6_500 && user.tokens(on: Self.jan16.date) == 10_000)
        #expect(user.months[YearMonth(year: 2024, month: 1)]?.days == [15: 6_500, 16: 10_000])
    }

    // MARK: Limit changes

    @Test func everyLimitChange() throws {
        var ledger = Ledger()
        var now = Self.afternoon
        func next() -> Timestamp {
            now += 1
            return now
        }
        func change(_ change: UsageChange, sourceLocation: SourceLocation = #_sourceLocation) throws -> UsageLimits {
            let applied = ledger.apply(.changeUsage(change), at: next())
            #expect(!applied.replayed && applied.changedState, sourceLocation: sourceLocation)
            guard case .usageLimits(let limits) = applied.outcome else {
                Issue.record("\(change): \(applied.outcome)", sourceLocation: sourceLocation)
                throw Refused()
            }
            #expect(limits == ledger.usage.limits, sourceLocation: sourceLocation)
            #expect(ledger.invariantViolations() == [], sourceLocation: sourceLocation)
            return limits
        }
        func status(_ user: String) -> UsageStatus { ledger.usageStatus(of: user, on: Self.jan15) }

        #expect(ledger.usage.limits == UsageLimits())
        #expect(ledger.usage.limits.tiers == ["trial": 10_000, "subscribed": 100_000] && ledger.usage.limits.timeZone == "UTC")

        // tierLimit: a new tier, a changed one, a removed one (its users fall back to the default).
        #expect(try change(.tierLimit(tier: "gold", tokens: 50_000)).tiers["gold"] == 50_000)
        #expect(try change(.userTier(userID: "g", tier: "gold")) == ledger.usage.limits)
        #expect(status("g").limit == 50_000 && status("g").tier == "gold")
        #expect(try change(.tierLimit(tier: "trial", tokens: 2_000)).tiers["trial"] == 2_000)
        #expect(status("nobody").limit == 2_000 && status("nobody").tier == "trial")
        #expect(try change(.tierLimit(tier: "gold", tokens: nil)).tiers["gold"] == nil)
        #expect(status("g").limit == 2_000 && status("g").tier == "trial")
        #expect(ledger.memberships["g"]?.tier == "gold", "the user keeps the membership; its tier has no limit now")
        try Self.refused(&ledger, .changeUsage(.tierLimit(tier: "trial", tokens: nil)), at: next(), on: nil, .failedPrecondition, "DEFAULT_TIER_NEEDS_LIMIT")
        try Self.refused(&ledger, .changeUsage(.tierLimit(tier: "trial", tokens: -1)), at: next(), on: nil, .invalidArgument, "LIMIT_NEGATIVE")
        _ = try change(.tierLimit(tier: "zero", tokens: 0))  // a limit of 0 is a limit

        // userTier: set and cleared.
        _ = try change(.userTier(userID: "s", tier: "subscribed"))
        #expect(status("s").limit == 100_000 && status("s").tier == "subscribed")
        _ = try change(.userTier(userID: "s", tier: nil))
        #expect(status("s").limit == 2_000 && ledger.memberships["s"] == nil)
        try Self.refused(&ledger, .changeUsage(.userTier(userID: "s", tier: "platinum")), at: next(), on: nil, .failedPrecondition, "TIER_NOT_FOUND")
        _ = try change(.userTier(userID: "z", tier: "zero"))
        try Self.refused(&ledger, Self.consume("z", 1), at: next(), on: Self.jan15, .resourceExhausted, "DAILY_LIMIT_EXCEEDED")

        // userLimit: an override beats the tier, in either direction, and can be removed.
        _ = try change(.userLimit(userID: "s", tokens: 50))
        #expect(status("s").limit == 50)
        try Self.refused(&ledger, Self.consume("s", 51), at: next(), on: Self.jan15, .resourceExhausted, "DAILY_LIMIT_EXCEEDED")
        _ = try change(.userLimit(userID: "s", tokens: 1_000_000))
        try Self.accepted(&ledger, Self.consume("s", 500_000), at: next(), on: Self.jan15)
        _ = try change(.userLimit(userID: "s", tokens: nil))
        #expect(status("s").limit == 2_000 && status("s").remaining == 0 && status("s").used == 500_000)
        try Self.refused(&ledger, .changeUsage(.userLimit(userID: "s", tokens: -5)), at: next(), on: nil, .invalidArgument, "LIMIT_NEGATIVE")

        // tierShadow: over-limit calls of the tier's users are admitted and counted as would-be refusals.
        #expect(try change(.tierShadow(tier: "trial", on: true)).shadowTiers == ["trial"])
        let shadowed = try Self.accepted(&ledger, Self.consume("t", 2_500), at: next(), on: Self.jan15)
        #expect(shadowed.status.shadow && shadowed.status.used == 2_500 && shadowed.status.remaining == 0 && shadowed.status.shadowRefusals == 1)
        let again = try Self.accepted(&ledger, Self.reserve("t", 10), at: next(), on: Self.jan15)
        #expect(again.status.shadowRefusals == 2 && again.status.reserved == 10)
        #expect(try change(.tierShadow(tier: "trial", on: false)).shadowTiers.isEmpty)
        try Self.refused(&ledger, Self.consume("t", 1), at: next(), on: Self.jan15, .resourceExhausted, "DAILY_LIMIT_EXCEEDED")

        // userShadow: one user only.
        _ = try change(.userShadow(userID: "t", on: true))
        #expect(try Self.accepted(&ledger, Self.consume("t", 1), at: next(), on: Self.jan15).status.shadowRefusals == 3)
        try Self.refused(&ledger, Self.consume("s", 1), at: next(), on: Self.jan15, .resourceExhausted, "DAILY_LIMIT_EXCEEDED")
        _ = try change(.userShadow(userID: "t", on: false))
        #expect(!status("t").shadow)

        // defaultTier: only a tier with a limit; after the switch the old default may go.
        try Self.refused(&ledger, .changeUsage(.defaultTier("gold")), at: next(), on: nil, .failedPrecondition, "TIER_NOT_FOUND")
        #expect(try change(.defaultTier("subscribed")).defaultTier == "subscribed")
        #expect(status("nobody").limit == 100_000 && status("nobody").tier == "subscribed")
        #expect(try change(.tierLimit(tier: "trial", tokens: nil)).tiers["trial"] == nil)
        try Self.refused(&ledger, .changeUsage(.tierLimit(tier: "subscribed", tokens: nil)), at: next(), on: nil, .failedPrecondition, "DEFAULT_TIER_NEEDS_LIMIT")

        // timeZone: stored as given (the server checked the tz database); junk is refused.
        #expect(try change(.timeZone("Europe/Berlin")).timeZone == "Europe/Berlin")
        #expect(try change(.timeZone("America/Argentina/Buenos_Aires")).timeZone == "America/Argentina/Buenos_Aires")
        for junk in ["", "Europe/Ber lin", "Europe/Berlin\n", "../../etc/passwd"] {
            try Self.refused(&ledger, .changeUsage(.timeZone(junk)), at: next(), on: nil, .invalidArgument, "TIME_ZONE_INVALID")
        }
        #expect(ledger.usage.limits.timeZone == "America/Argentina/Buenos_Aires")
        #expect(ledger.invariantViolations() == [])
    }

    // MARK: Validation

    @Test func badInputIsRefusedBeforeItTouchesAnything() throws {
        let long = String(repeating: "x", count: 129)
        let cases: [(Command, String, String)] = [
            (Self.consume("", 1), "USER_ID_EMPTY", "user_id"),
            (Self.consume(long, 1), "FIELD_TOO_LONG", "user_id"),
            (Self.consume("bell\u{7}", 1), "USER_ID_INVALID", "user_id"),
            (Self.consume("u", 0), "AMOUNT_NOT_POSITIVE", "tokens"),
            (Self.consume("u", -5), "AMOUNT_NOT_POSITIVE", "tokens"),
            (Self.consume("u", 1, key: long), "FIELD_TOO_LONG", "idempotency_key"),
            (Self.reserve("", 1), "USER_ID_EMPTY", "user_id"),
            (Self.reserve("u", 0), "AMOUNT_NOT_POSITIVE", "tokens"),
            (Self.reserve("u", 1, ttlMs: Reserve.maxTTLMilliseconds + 1), "TTL_OUT_OF_RANGE", "ttl_ms"),
            (Self.reserve("u", 1, key: long), "FIELD_TOO_LONG", "idempotency_key"),
            (.settle(Settle(reservationID: 1, tokens: -1)), "AMOUNT_NEGATIVE", "tokens"),
            (.settle(Settle(reservationID: 1, tokens: 1, idempotencyKey: long)), "FIELD_TOO_LONG", "idempotency_key"),
            (.release(Release(reservationID: 1, idempotencyKey: long)), "FIELD_TOO_LONG", "idempotency_key"),
            (.changeUsage(.tierLimit(tier: "", tokens: 1)), "TIER_EMPTY", "tier"),
            (.changeUsage(.tierLimit(tier: "gold\u{0}", tokens: 1)), "TIER_INVALID", "tier"),
            (.changeUsage(.tierLimit(tier: String(repeating: "t", count: 65), tokens: 1)), "FIELD_TOO_LONG", "tier"),
            (.changeUsage(.tierLimit(tier: "gold", tokens: -1)), "LIMIT_NEGATIVE", "limit"),
            (.changeUsage(.userLimit(userID: "", tokens: 1)), "USER_ID_EMPTY", "user_id"),
            (.changeUsage(.userLimit(userID: "u", tokens: .min)), "LIMIT_NEGATIVE", "limit"),
            (.changeUsage(.userTier(userID: "u", tier: "")), "TIER_EMPTY", "tier"),
            (.changeUsage(.userTier(userID: "\u{85}", tier: "gold")), "USER_ID_INVALID", "user_id"),
            (.changeUsage(.tierShadow(tier: "", on: true)), "TIER_EMPTY", "tier"),
            (.changeUsage(.userShadow(userID: "", on: true)), "USER_ID_EMPTY", "user_id"),
            (.changeUsage(.defaultTier("")), "TIER_EMPTY", "tier"),
            (.changeUsage(.timeZone("Europe/Berlin;")), "TIME_ZONE_INVALID", "time_zone"),
            (.changeUsage(.timeZone(String(repeating: "A", count: 65))), "FIELD_TOO_LONG", "time_zone"),
        ]
        var ledger = Ledger()
        try Self.accepted(&ledger, Self.reserve("u", 100), at: Self.afternoon, on: Self.jan15)
        for (index, (command, reason, field)) in cases.enumerated() {
            let refusal = try Self.refused(&ledger, command, at: Self.afternoon + 1 + Int64(index), on: Self.jan15, .invalidArgument, reason)
            #expect(refusal.details["field"] == field, "\(command): \(refusal)")
        }
        // A refused request's key is not taken: the valid request with that key is accepted.
        _ = try Self.refused(&ledger, Self.consume("u", 0, key: "k"), at: Self.afternoon + 100, on: Self.jan15, .invalidArgument, "AMOUNT_NOT_POSITIVE")
        #expect(try Self.accepted(&ledger, Self.consume("u", 5, key: "k"), at: Self.afternoon + 101, on: Self.jan15).status.used == 5)
    }

    // MARK: An example month

    /// An example month (days 01–05 using 850, 1200, 0, 2100 and 1750) gives a
    /// total of 5900, an average of 1180 a day and day 04 as the peak with 2100, through the
    /// Ledger; and the example day document: 1250 of 10000 used, resetting at midnight UTC.
    @Test func exampleMonthThroughTheLedger() throws {
        var ledger = Ledger()
        let user = "abc123def456"
        var lastDay = Self.jan15
        for (day, parts) in [(1, [850]), (2, [200, 1_000]), (4, [2_100]), (5, [1_000, 750])] as [(UInt8, [Int64])] {
            let usageDay = utcDay(2024, 1, day)
            for (index, tokens) in parts.enumerated() {
                let at = usageDay.startsAt + 9 * Microseconds.perHour + Int64(index) * second
                // Day 02 without a stamped day: the Ledger works out the UTC day itself.
                let receipt = try Self.accepted(&ledger, Self.consume(user, tokens), at: at, on: day == 2 ? nil : usageDay)
                #expect(receipt.status.date == usageDay.date && receipt.status.resetsAt == usageDay.endsAt)
            }
            lastDay = usageDay
        }
        #expect(ledger.usageStatus(of: user, on: lastDay).used == 1_750)
        let usage = try #require(ledger.usage.usage(of: user))
        #expect(usage.tokens(on: CivilDay(year: 2024, month: 1, day: 3)) == 0)
        #expect(usage.days == [
            CivilDay(year: 2024, month: 1, day: 1): 850, CivilDay(year: 2024, month: 1, day: 2): 1_200,
            CivilDay(year: 2024, month: 1, day: 4): 2_100,
        ])
        let month = try #require(usage.months[YearMonth(year: 2024, month: 1)])
        #expect(month.days == [1: 850, 2: 1_200, 4: 2_100, 5: 1_750])
        #expect(month.total == 5_900)
        #expect(month.averagePerDay == 1_180)
        #expect(month.peak?.day == 4 && month.peak?.tokens == 2_100)
        #expect(month.tier == "trial")
        let history = ledger.usage.months(of: user, last: 3)
        #expect(history.map(\.month) == [YearMonth(year: 2024, month: 1)] && history.first?.usage == month)

        // The example daily document: 1250 of 10000 at 14:30 on Jan 15, reset at 2024-01-16T00:00Z.
        let doc = try Self.accepted(&ledger, Self.consume(user, 1_250), at: Self.afternoon, on: Self.jan15)
        #expect(doc.status.used == 1_250 && doc.status.limit == 10_000 && doc.status.tier == "trial")
        #expect(doc.status.resetsAt == 1_705_363_200_000_000)
        #expect(ledger.usage.usage(of: user)?.months[YearMonth(year: 2024, month: 1)]?.total == 7_150)
        #expect(ledger.invariantViolations() == [])
    }
}
