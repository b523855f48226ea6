import Foundation
import TallyLedger
import TallyTestSupport
import Testing

@testable import TallyServer

/// The required property test for daily limits in time zones: random timestamps
/// around local midnights and daylight-saving changes, in zones with 1-hour, 30-minute and
/// midnight DST changes and in zones without DST, drive a real Ledger the way the Writer does
/// (`apply(command, at: t, day: UsageCalendar.day(containing: t))`), and a model kept apart
/// from it checks after every step:
///
/// - the day UsageCalendar stamps is the day an independent computation gives (the local date
///   of the whole second from `TimeZone.secondsFromGMT`, and the first seconds of that date
///   and the next found by search), and every answer's `resetsAt` is that day's end;
/// - per-day totals equal the sum of accepted consumes (and settles, on their reservation's
///   day), within retention;
/// - an admitted consume or reservation never takes a non-shadow user past the limit, with
///   reservations counted; a refusal happens exactly when the model says it must;
/// - monthly aggregates (days, total, average, peak, tier) equal what the daily counts say;
/// - `invariantViolations()` is empty.
///
/// The run must have covered 23- and 25-hour days (or Lord Howe's 23.5 and 24.5), exact
/// midnights, the last millisecond before them, and DST changes, or the test fails: it cannot
/// silently miss what it is for. Seeds are fixed and printed in every message.
@Suite struct UsageZonePropertyTests {
    static let zones = [
        "UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Havana", "America/Santiago",
        "Asia/Kolkata",
    ]
    static let seeds: [UInt64] = [0x0003_DA11, 0x5EED_2024_0BAD]
    static let withoutDST: Set<String> = ["UTC", "Asia/Kolkata"]
    /// DST changes at midnight: the day the clocks go forward has no 00:00.
    static let skipsMidnight: Set<String> = ["America/Havana", "America/Santiago"]

    static let micros: Int64 = 1_000_000
    static let hour: Int64 = 3_600 * micros
    static let users = ["ana", "ben", "cy", "dee", "eve"]
    /// 2024-01-01T00:00Z to 2025-02-10T00:00Z: a little over 13 months, so monthly retention
    /// (13 months) drops the first month before the end.
    static let windowStart: Int64 = 1_704_067_200 * micros
    static let windowEnd: Int64 = 1_739_145_600 * micros

    @Test(arguments: zones, seeds)
    func totalsLimitsAndMonthsHoldAroundMidnightsAndDST(zone: String, seed: UInt64) throws {
        let calendar = try #require(UsageCalendar(zone: zone), "seed \(seed), \(zone)")
        let clock = try #require(ZoneClock(zone), "seed \(seed), \(zone)")
        var random = SplitMix64(seed: seed)

        // The days of the window and the DST changes, worked out independently of UsageCalendar.
        var dayStarts: [Int64] = []
        var cursor = clock.day(of: Self.windowStart)
        while cursor.startsAt < Self.windowEnd {
            dayStarts.append(cursor.startsAt)
            cursor = clock.day(of: cursor.endsAt)
        }
        var transitions: [Int64] = []
        var after = Date(timeIntervalSince1970: TimeInterval(Self.windowStart / Self.micros))
        while let next = clock.zone.nextDaylightSavingTimeTransition(after: after),
            next.timeIntervalSince1970 < TimeInterval(Self.windowEnd / Self.micros), next > after
        {
            transitions.append(Int64(next.timeIntervalSince1970.rounded()) * Self.micros)
            after = next
        }
        if Self.withoutDST.contains(zone) {
            #expect(transitions.isEmpty, "seed \(seed), \(zone) has no DST")
        } else {
            #expect(transitions.count >= 2, "seed \(seed), \(zone): DST changes in the window: \(transitions)")
        }

        // Moments: within microseconds, milliseconds and seconds of each local midnight and
        // each DST change, exactly on them, and a few in between.
        var moments: Set<Int64> = []
        for start in dayStarts {
            if random.chance(70) { moments.insert(start - 1) }  // 23:59:59.999999
            if random.chance(50) { moments.insert(start - Int64.random(in: 2...999, using: &random)) }  // 23:59:59.999xxx
            if random.chance(40) { moments.insert(start - Int64.random(in: 1_000...3 * Self.micros, using: &random)) }
            if random.chance(70) { moments.insert(start) }  // 00:00:00.000000
            if random.chance(50) { moments.insert(start + Int64.random(in: 1...999, using: &random)) }
            if random.chance(40) { moments.insert(start + Int64.random(in: 1_000...3 * Self.micros, using: &random)) }
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                moments.insert(start + Int64.random(in: Self.hour...22 * Self.hour, using: &random))
            }
        }
        for change in transitions {
            moments.formUnion([change - 1, change, change + 1])
            moments.insert(change - Int64.random(in: 2...999_999, using: &random))
            moments.insert(change + Int64.random(in: 2...999_999, using: &random))
            moments.insert(change - Int64.random(in: Self.micros...90 * 60 * Self.micros, using: &random))
            moments.insert(change + Int64.random(in: Self.micros...90 * 60 * Self.micros, using: &random))
        }
        let timeline = moments.sorted()

        var ledger = Ledger()
        var model = ZoneUsageModel()
        // The limits: trial by default, ben subscribed, eve gold, cy an override, dee shadow.
        var setupTime = dayStarts[0] - Self.hour
        for change in model.setup {
            setupTime += 1
            let applied = ledger.apply(.changeUsage(change), at: setupTime)
            #expect(!(applied.outcome.isRefusal), "seed \(seed), \(zone): setup \(change): \(applied.outcome)")
        }

        var coverage = Coverage()
        var expectedDay: UsageDay?
        var lastMonth: YearMonth?
        for (step, now) in timeline.enumerated() {
            let context = "seed \(seed), \(zone), step \(step), t \(now)"
            // The day, independently: the local date of this whole second, and its bounds.
            let localDate = clock.date(of: now)
            if expectedDay?.date != localDate || !(expectedDay?.contains(now) ?? false) { expectedDay = clock.day(of: now) }
            let day = try #require(expectedDay)
            let stamped = calendar.day(containing: now)
            try #require(stamped == day, "\(context): UsageCalendar says \(stamped), expected \(day)")
            try #require(day.contains(now) && day.date == localDate, "\(context): \(day) for local date \(localDate)")
            coverage.note(now, day: day, clock: clock, transitions: transitions)

            let user = random.pick(Self.users)
            let command = model.nextCommand(user: user, step: step, at: now, on: localDate, &random)
            let before = ledger
            let applied = ledger.apply(command, at: now, day: stamped)
            try model.check(applied, of: command, at: now, on: day, before: before, after: ledger, coverage: &coverage, context)

            try #require(ledger.invariantViolations() == [], "\(context)")
            for user in model.touched(by: command, before: before) {
                try model.compare(ledger, user: user, "\(context), \(user)")
            }
            // A user's state changes only when a command touches it (checked above); every user
            // again at each new month, when the aggregates turn over.
            if lastMonth != YearMonth(localDate) {
                for user in Self.users { try model.compare(ledger, user: user, "\(context), new month, \(user)") }
                lastMonth = YearMonth(localDate)
            }
        }
        for user in Self.users { try model.compare(ledger, user: user, "seed \(seed), \(zone), at the end, \(user)") }
        try model.compareMonthsByTier(ledger, "seed \(seed), \(zone), at the end")

        // The run covered what it is for.
        let context = "seed \(seed), \(zone)"
        #expect(coverage.atMidnight >= 50, "\(context): commands exactly at a day's start")
        #expect(coverage.lastMillisecond >= 50, "\(context): commands at 23:59:59.999xxx")
        #expect(coverage.months.count >= 13, "\(context): months covered \(coverage.months.count)")
        if Self.withoutDST.contains(zone) {
            #expect(coverage.lengths == [24 * Self.hour], "\(context): day lengths \(coverage.lengths)")
        } else {
            let (short, long) = zone == "Australia/Lord_Howe" ? (47 * Self.hour / 2, 49 * Self.hour / 2) : (23 * Self.hour, 25 * Self.hour)
            #expect(coverage.lengths == [short, 24 * Self.hour, long], "\(context): day lengths \(coverage.lengths)")
            #expect(coverage.shortDays >= 1 && coverage.longDays >= 1, "\(context): \(coverage.shortDays) short, \(coverage.longDays) long days")
            #expect(coverage.nearTransition >= 8, "\(context): \(coverage.nearTransition) commands within 2 s of a DST change")
        }
        if Self.skipsMidnight.contains(zone) {
            #expect(coverage.daysWithoutMidnight >= 1, "\(context): no day starting at 01:00 was covered")
        } else {
            #expect(coverage.daysWithoutMidnight == 0, "\(context): a day started off midnight")
        }
        #expect(coverage.accepted >= 300 && coverage.limitRefusals >= 50, "\(context): \(coverage)")
        #expect(coverage.replays >= 10 && coverage.conflicts >= 5 && coverage.shadowOverLimit >= 5, "\(context): \(coverage)")
        #expect(coverage.settledOverEstimate >= 5 && coverage.expired >= 10 && coverage.settledOnEarlierDay >= 1, "\(context): \(coverage)")
        #expect(coverage.retriedOnLaterDay >= 1 && coverage.limitChanges >= 10 && coverage.filledToTheLimit >= 20, "\(context): \(coverage)")
    }
}

/// Local dates and days of a zone, computed without UsageCalendar: the zone's offset at a
/// whole second gives the local wall time, whose UTC calendar date is the local date; a day's
/// bounds are the first seconds of its date and of the next, found by binary search (local
/// dates never go backwards in these zones, so the search is sound).
struct ZoneClock {
    let zone: TimeZone
    private let utcCalendar: Calendar

    init?(_ identifier: String) {
        guard let zone = TimeZone(identifier: identifier), let utc = TimeZone(secondsFromGMT: 0) else { return nil }
        self.zone = zone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = utc
        utcCalendar = calendar
    }

    static func second(of moment: Timestamp) -> Int64 {
        moment >= 0 ? moment / 1_000_000 : (moment - 999_999) / 1_000_000
    }

    func offset(atSecond second: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(second))))
    }

    func date(atSecond second: Int64) -> CivilDay {
        let wall = Date(timeIntervalSince1970: TimeInterval(second + offset(atSecond: second)))
        let parts = utcCalendar.dateComponents([.year, .month, .day], from: wall)
        return CivilDay(year: Int32(parts.year!), month: UInt8(parts.month!), day: UInt8(parts.day!))
    }

    func date(of moment: Timestamp) -> CivilDay { date(atSecond: Self.second(of: moment)) }

    /// Seconds of local wall time since that date's midnight, at `second`.
    func wallSeconds(atSecond second: Int64) -> Int64 {
        let wall = second + offset(atSecond: second)
        return ((wall % 86_400) + 86_400) % 86_400
    }

    func day(of moment: Timestamp) -> UsageDay {
        let second = Self.second(of: moment)
        let date = date(atSecond: second)
        let window: Int64 = 30 * 3_600
        let start = first(from: second - window, to: second) { self.date(atSecond: $0) >= date }
        let end = first(from: second + 1, to: second + window) { self.date(atSecond: $0) > date }
        return UsageDay(date: date, startsAt: start * 1_000_000, endsAt: end * 1_000_000)
    }

    /// The first second in lo...hi where `holds` (false then true; true at hi).
    private func first(from lo: Int64, to hi: Int64, _ holds: (Int64) -> Bool) -> Int64 {
        var lo = lo, hi = hi
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if holds(mid) { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}

/// What the run went through, so the test can insist it covered what it is for.
struct Coverage: CustomStringConvertible {
    var atMidnight = 0
    var lastMillisecond = 0
    var nearTransition = 0
    var lengths: Set<Int64> = []
    var shortDays = 0
    var longDays = 0
    var daysWithoutMidnight = 0
    var months: Set<YearMonth> = []
    private var seenDays: Set<CivilDay> = []

    var accepted = 0
    var limitRefusals = 0
    var replays = 0
    var conflicts = 0
    var shadowOverLimit = 0
    var settledOverEstimate = 0
    var settledOnEarlierDay = 0
    var expired = 0
    var retriedOnLaterDay = 0
    var limitChanges = 0
    var filledToTheLimit = 0

    mutating func note(_ now: Timestamp, day: UsageDay, clock: ZoneClock, transitions: [Int64]) {
        if now == day.startsAt { atMidnight += 1 }
        if (1...1_000).contains(day.endsAt - now) { lastMillisecond += 1 }
        if transitions.contains(where: { abs($0 - now) <= 2_000_000 }) { nearTransition += 1 }
        months.insert(YearMonth(day.date))
        guard seenDays.insert(day.date).inserted else { return }
        let length = day.endsAt - day.startsAt
        lengths.insert(length)
        if length < 24 * UsageZonePropertyTests.hour { shortDays += 1 }
        if length > 24 * UsageZonePropertyTests.hour { longDays += 1 }
        if clock.wallSeconds(atSecond: day.startsAt / 1_000_000) != 0 { daysWithoutMidnight += 1 }
    }

    var description: String {
        "accepted \(accepted), limit refusals \(limitRefusals), replays \(replays), conflicts \(conflicts), "
            + "shadow over limit \(shadowOverLimit), settled over estimate \(settledOverEstimate), "
            + "settled on an earlier day \(settledOnEarlierDay), expired \(expired), "
            + "retried on a later day \(retriedOnLaterDay), limit changes \(limitChanges), filled to the limit \(filledToTheLimit)"
    }
}

/// A step whose answer or state the model did not expect: the run stops at the first one.
struct ZoneMismatch: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Outcome {
    var isRefusal: Bool {
        if case .refused = self { return true }
        return false
    }
}

/// The model: limits, per-day counts, open reservations and idempotency keys, kept apart from
/// the Ledger, and the expected answer of every command worked out from them.
struct ZoneUsageModel {
    struct Open: Equatable {
        var user: String
        var tokens: Int64
        var date: CivilDay
        var createdAt: Timestamp
        var expiresAt: Timestamp
    }

    struct Keyed {
        var command: Command
        var firstSeen: Timestamp
        var date: CivilDay
        var outcome: Outcome
    }

    let defaultTier = "trial"
    var tiers: [String: Int64] = ["trial": 1_500, "subscribed": 4_000, "gold": 2_500]
    var shadowTiers: Set<String> = []
    var userTier: [String: String] = [:]
    var overrides: [String: Int64] = [:]
    var shadowUsers: Set<String> = []

    /// Tokens counted per user and local date: accepted consumes on their day, settles on the
    /// day their reservation was made. Never pruned: retention is applied when comparing.
    var counted: [String: [CivilDay: Int64]] = [:]
    /// The latest day each user's usage moved to: the Ledger keeps records relative to it.
    var rolledTo: [String: CivilDay] = [:]
    var shadowRefusals: [String: Int64] = [:]
    /// The user's tier when each month last counted tokens.
    var monthTier: [String: [YearMonth: String]] = [:]
    var open: [UInt64: Open] = [:]
    var nextReservationID: UInt64 = 1
    var keyed: [String: Keyed] = [:]
    var recentKeys: [String] = []
    let idempotencyTTL = LedgerConfig().idempotencyTTL
    let retention = UsageRetention()

    var setup: [UsageChange] {
        [
            .tierLimit(tier: "trial", tokens: 1_500), .tierLimit(tier: "subscribed", tokens: 4_000),
            .tierLimit(tier: "gold", tokens: 2_500), .userTier(userID: "ben", tier: "subscribed"),
            .userTier(userID: "eve", tier: "gold"), .userLimit(userID: "cy", tokens: 800), .userShadow(userID: "dee", on: true),
        ]
    }

    init() {
        for change in setup { _ = apply(change) }
    }

    // MARK: Rules (written from the issue, not from the Ledger's code)

    func tier(of user: String) -> String {
        if let tier = userTier[user], tiers[tier] != nil { return tier }
        return defaultTier
    }

    func limit(of user: String) -> Int64 { overrides[user] ?? tiers[tier(of: user)] ?? 0 }
    func shadow(_ user: String) -> Bool { shadowUsers.contains(user) || shadowTiers.contains(tier(of: user)) }
    func used(_ user: String, on date: CivilDay) -> Int64 { counted[user]?[date] ?? 0 }

    func reserved(_ user: String, on date: CivilDay) -> Int64 {
        open.values.filter { $0.user == user && $0.date == date }.reduce(0) { $0 + $1.tokens }
    }

    mutating func roll(_ user: String, to date: CivilDay) {
        if let current = rolledTo[user], current >= date { return }
        rolledTo[user] = date
        shadowRefusals[user] = 0
    }

    mutating func count(_ user: String, _ tokens: Int64, on date: CivilDay) {
        guard tokens > 0 else { return }
        counted[user, default: [:]][date, default: 0] += tokens
        monthTier[user, default: [:]][YearMonth(date)] = tier(of: user)
    }

    /// Applies a limit change; a refusal reason when it must be refused.
    mutating func apply(_ change: UsageChange) -> String? {
        switch change {
        case .tierLimit(let tier, let tokens):
            if tokens == nil && tier == defaultTier { return "DEFAULT_TIER_NEEDS_LIMIT" }
            tiers[tier] = tokens
        case .userLimit(let user, let tokens): overrides[user] = tokens
        case .userTier(let user, let tier):
            if let tier, tiers[tier] == nil { return "TIER_NOT_FOUND" }  // a membership needs a defined tier
            userTier[user] = tier
        case .tierShadow(let tier, let on):
            if on { shadowTiers.insert(tier) } else { shadowTiers.remove(tier) }
        case .userShadow(let user, let on):
            if on { shadowUsers.insert(user) } else { shadowUsers.remove(user) }
        case .defaultTier, .timeZone:
            preconditionFailure("not generated")
        }
        return nil
    }

    func expectedStatus(_ user: String, on day: UsageDay) -> UsageStatus {
        let used = used(user, on: day.date), reserved = reserved(user, on: day.date), limit = limit(of: user)
        return UsageStatus(
            userID: user, date: day.date, used: used, reserved: reserved, limit: limit, remaining: max(0, limit - used - reserved),
            resetsAt: day.endsAt, tier: ExactString(tier(of: user)), shadow: shadow(user),
            shadowRefusals: rolledTo[user] == day.date ? shadowRefusals[user] ?? 0 : 0)
    }

    // MARK: Commands

    mutating func nextCommand(user: String, step: Int, at now: Timestamp, on date: CivilDay, _ random: inout SplitMix64) -> Command {
        let roll = Int.random(in: 0..<100, using: &random)
        let ids = open.keys.sorted()
        switch roll {
        case 0..<34:
            var tokens = random.chance(85) ? Int64.random(in: 1...700, using: &random) : Int64.random(in: 700...2_500, using: &random)
            if random.chance(25) {  // right at the limit: exactly what remains, or one more
                tokens = max(1, limit(of: user) - used(user, on: date) - reserved(user, on: date)) + Int64.random(in: 0...1, using: &random)
            }
            return .consume(Consume(userID: user, tokens: tokens, idempotencyKey: random.chance(30) ? "c\(step)" : ""))
        case 34..<52:
            let ttl: UInt32 = switch Int.random(in: 0..<3, using: &random) {
            case 0: 0  // the default, 60 s
            case 1: UInt32.random(in: 1...2_000, using: &random)
            default: UInt32.random(in: 300_000...Reserve.maxTTLMilliseconds, using: &random)
            }
            return .reserve(Reserve(
                userID: user, tokens: Int64.random(in: 1...1_200, using: &random), ttlMilliseconds: ttl,
                idempotencyKey: random.chance(20) ? "r\(step)" : ""))
        case 52..<64:
            guard !ids.isEmpty, random.chance(92) else { return .settle(Settle(reservationID: 1_000_000 + UInt64(step), tokens: 5)) }
            let id = random.pick(ids)
            let estimate = open[id]!.tokens
            return .settle(Settle(
                reservationID: id, tokens: Int64.random(in: 0...2 * estimate + 100, using: &random),
                idempotencyKey: random.chance(20) ? "s\(step)" : ""))
        case 64..<70:
            guard !ids.isEmpty, random.chance(92) else { return .release(Release(reservationID: 1_000_000 + UInt64(step))) }
            return .release(Release(reservationID: random.pick(ids)))
        case 70..<80:
            return .expireReservations
        case 80..<86:
            let change: UsageChange = switch Int.random(in: 0..<8, using: &random) {
            case 0: .tierLimit(tier: "trial", tokens: Int64.random(in: 400...3_000, using: &random))
            case 1: .tierLimit(tier: "gold", tokens: random.chance(40) ? nil : Int64.random(in: 500...5_000, using: &random))
            case 2: .tierLimit(tier: "trial", tokens: nil)  // refused: the default tier keeps a limit
            case 3: .userLimit(userID: "cy", tokens: random.chance(30) ? nil : Int64.random(in: 0...2_000, using: &random))
            case 4: .tierShadow(tier: "subscribed", on: random.chance(50))
            case 5: .userTier(userID: user, tier: random.pick([nil, "trial", "subscribed", "gold", "platinum"]))
            case 6: .userShadow(userID: user, on: user == "dee" || random.chance(20))
            default: .tierLimit(tier: "subscribed", tokens: Int64.random(in: 1_000...6_000, using: &random))
            }
            return .changeUsage(change)
        case 86..<96 where !recentKeys.isEmpty:
            // An exact retry, mostly of a key still remembered (else it counts again, as new).
            return keyed[pickKey(at: now, &random)]!.command
        default:
            guard !recentKeys.isEmpty else { return .expireReservations }
            // Same key, another request.
            return KeyedRetries.conflicting(with: keyed[pickKey(at: now, &random)]!.command, users: [], &random)
        }
    }

    /// A recent idempotency key, three times in four one still remembered at `now` if any is.
    func pickKey(at now: Timestamp, _ random: inout SplitMix64) -> String {
        let live = recentKeys.filter { now < keyed[$0]!.firstSeen + idempotencyTTL }
        return random.pick(!live.isEmpty && random.chance(75) ? live : recentKeys)
    }

    /// The users whose usage the command may have changed.
    func touched(by command: Command, before: Ledger) -> [String] {
        switch command {
        case .consume(let c): return [c.userID]
        case .reserve(let r): return [r.userID]
        case .settle(let s): return before.usage.reservations[s.reservationID].map { [$0.userID.value] } ?? []
        case .release(let r): return before.usage.reservations[r.reservationID].map { [$0.userID.value] } ?? []
        case .expireReservations: return Array(Set(before.usage.reservations.values.map(\.userID.value)))
        default: return []  // no usage changes
        }
    }

    /// Checks the Ledger's answer against the model's and moves the model on.
    mutating func check(
        _ applied: Applied, of command: Command, at now: Timestamp, on day: UsageDay, before: Ledger, after: Ledger,
        coverage: inout Coverage, _ context: String
    ) throws {
        let context = "\(context): \(command)"
        let key = command.idempotencyKey
        if !key.isEmpty, let record = keyed[key], now < record.firstSeen + idempotencyTTL {
            // A key seen within its time-to-live: the first answer again, or a conflict; either way nothing counts.
            try #require(after.usage == before.usage, "\(context): a retry changed usage")
            if record.command == command {
                try #require(applied.replayed && applied.outcome == record.outcome, "\(context): \(applied)")
                coverage.replays += 1
                if record.date != day.date { coverage.retriedOnLaterDay += 1 }
            } else {
                try #require(!applied.replayed && applied.outcome.refusal?.reason == "IDEMPOTENCY_KEY_CONFLICT", "\(context): \(applied)")
                coverage.conflicts += 1
            }
            return
        }
        try #require(!applied.replayed, "\(context)")
        if !key.isEmpty {
            keyed[key] = Keyed(command: command, firstSeen: now, date: day.date, outcome: applied.outcome)
            recentKeys.append(key)
            if recentKeys.count > 12 { recentKeys.removeFirst() }
        }

        switch command {
        case .consume(let consume):
            try admit(consume.userID, consume.tokens, applied, on: day, before: before, after: after, coverage: &coverage, context) {
                model in
                model.count(consume.userID, consume.tokens, on: day.date)
                try #require(applied.outcome.usageReceipt?.reservation == nil, "\(context)")
            }
        case .reserve(let reserve):
            let ttl = Int64(reserve.ttlMilliseconds == 0 ? Reserve.defaultTTLMilliseconds : reserve.ttlMilliseconds)
            try admit(reserve.userID, reserve.tokens, applied, on: day, before: before, after: after, coverage: &coverage, context) {
                model in
                let id = model.nextReservationID
                model.nextReservationID += 1
                model.open[id] = Open(user: reserve.userID, tokens: reserve.tokens, date: day.date, createdAt: now, expiresAt: now + ttl * 1_000)
                try #require(
                    applied.outcome.usageReceipt?.reservation
                        == Reservation(
                            id: id, userID: ExactString(reserve.userID), tokens: reserve.tokens, day: day.date, createdAt: now,
                            expiresAt: now + ttl * 1_000), "\(context): \(applied.outcome)")
            }
        case .settle(let settle):
            try end(settle.reservationID, applied, on: day, before: before, after: after, context) { model, held in
                model.count(held.user, settle.tokens, on: held.date)
                if settle.tokens > held.tokens { coverage.settledOverEstimate += 1 }
                if held.date < day.date && settle.tokens > 0 { coverage.settledOnEarlierDay += 1 }
            }
        case .release(let release):
            try end(release.reservationID, applied, on: day, before: before, after: after, context) { _, _ in }
        case .expireReservations:
            let due = open.filter { $0.value.expiresAt <= now }.sorted { $0.key < $1.key }
            let expected = due.map { id, held in
                Reservation(
                    id: id, userID: ExactString(held.user), tokens: held.tokens, day: held.date, createdAt: held.createdAt,
                    expiresAt: held.expiresAt)
            }
            try #require(applied.outcome == .expired(expected), "\(context): \(applied.outcome)")
            for (id, held) in due {
                open[id] = nil
                roll(held.user, to: day.date)
            }
            try #require(applied.changedState == (!due.isEmpty || after.idempotency != before.idempotency), "\(context)")
            coverage.expired += due.count
        case .changeUsage(let change):
            if let reason = apply(change) {
                try #require(applied.outcome.refusal?.reason == reason, "\(context): \(applied.outcome)")
                try #require(after.usage == before.usage, "\(context): a refused change changed usage")
            } else {
                coverage.limitChanges += 1
                guard case .usageLimits(let limits) = applied.outcome else {
                    throw ZoneMismatch("\(context): expected the limits, got \(applied.outcome)")
                }
                try #require(Dictionary(uniqueKeysWithValues: limits.tiers.map { ($0.key.value, $0.value) }) == tiers, "\(context)")
                try #require(Set(limits.shadowTiers.map(\.value)) == shadowTiers && limits.defaultTier.value == defaultTier, "\(context)")
            }
        default:  // credits, spends, purchases: not generated here
            throw ZoneMismatch("\(context): not generated")
        }
    }

    /// A consume or reserve: admitted exactly when it fits under the limit with what is used
    /// and reserved today (or in shadow mode, counting a would-be refusal); refused otherwise,
    /// with the figures, and nothing changes.
    private mutating func admit(
        _ user: String, _ tokens: Int64, _ applied: Applied, on day: UsageDay, before: Ledger, after: Ledger,
        coverage: inout Coverage, _ context: String, accepted: (inout ZoneUsageModel) throws -> Void
    ) throws {
        let used = used(user, on: day.date), reserved = reserved(user, on: day.date), limit = limit(of: user)
        let fits = used + reserved + tokens <= limit
        guard fits || shadow(user) else {
            try #require(after.usage == before.usage, "\(context): a refusal changed usage")
            let refusal = applied.outcome.refusal
            try #require(refusal?.code == .resourceExhausted && refusal?.reason == "DAILY_LIMIT_EXCEEDED", "\(context): \(applied.outcome)")
            try #require(
                refusal?.details == [
                    "used": String(used), "reserved": String(reserved), "limit": String(limit),
                    "remaining": String(max(0, limit - used - reserved)), "requested": String(tokens),
                    "resets_at_us": String(day.endsAt), "day": day.date.description,
                ], "\(context): \(applied.outcome)")
            coverage.limitRefusals += 1
            return
        }
        roll(user, to: day.date)
        if !fits {
            shadowRefusals[user, default: 0] += 1
            coverage.shadowOverLimit += 1
        }
        try accepted(&self)
        coverage.accepted += 1
        let status = applied.outcome.usageReceipt?.status
        try #require(status == expectedStatus(user, on: day), "\(context): \(applied.outcome)")
        try #require(status?.resetsAt == day.endsAt, "\(context): resets at the next local midnight")
        if !shadow(user), let status {
            try #require(status.used + status.reserved <= status.limit, "\(context): admitted past the limit: \(status)")
            if status.used + status.reserved == status.limit { coverage.filledToTheLimit += 1 }
        }
    }

    /// A settle or release: accepted while the reservation is open, NOT_FOUND after.
    private mutating func end(
        _ id: UInt64, _ applied: Applied, on day: UsageDay, before: Ledger, after: Ledger, _ context: String,
        settled: (inout ZoneUsageModel, Open) throws -> Void
    ) throws {
        guard let held = open[id] else {
            try #require(applied.outcome.refusal?.reason == "RESERVATION_NOT_FOUND", "\(context): \(applied.outcome)")
            try #require(applied.outcome.refusal?.code == .notFound, "\(context)")
            try #require(after.usage == before.usage, "\(context): a refusal changed usage")
            return
        }
        open[id] = nil
        roll(held.user, to: day.date)
        try settled(&self, held)
        let receipt = applied.outcome.usageReceipt
        try #require(receipt?.reservation?.id == id && receipt?.reservation?.day == held.date, "\(context): \(applied.outcome)")
        try #require(receipt?.status == expectedStatus(held.user, on: day), "\(context): \(applied.outcome)")
    }

    // MARK: Comparing state

    func isKept(_ date: CivilDay, today: CivilDay) -> Bool { today.dayNumber - date.dayNumber < retention.days }

    func isKept(_ month: YearMonth, today: CivilDay) -> Bool {
        (Int64(today.year) * 12 + Int64(today.month)) - (Int64(month.year) * 12 + Int64(month.month)) < retention.months
    }

    /// The months the model expects the Ledger to keep for `user`: day of month to tokens.
    func expectedMonths(_ user: String) -> [YearMonth: [UInt8: Int64]] {
        guard let today = rolledTo[user] else { return [:] }
        var months: [YearMonth: [UInt8: Int64]] = [:]
        for (date, tokens) in counted[user] ?? [:] where isKept(YearMonth(date), today: today) {
            months[YearMonth(date), default: [:]][date.day, default: 0] += tokens
        }
        return months
    }

    /// The user's whole usage state against the model: today's counts, every daily record
    /// within retention, and every monthly aggregate.
    func compare(_ ledger: Ledger, user: String, _ context: String) throws {
        let usage = ledger.usage.usage(of: user)
        guard let today = rolledTo[user] else {
            try #require(usage?.day == nil && (usage?.days.isEmpty ?? true) && (usage?.months.isEmpty ?? true), "\(context)")
            return
        }
        guard let usage else {
            throw ZoneMismatch("\(context): no usage in the ledger, the model has some")
        }
        let counted = counted[user] ?? [:]
        try #require(usage.day == today, "\(context)")
        try #require(usage.used == counted[today] ?? 0, "\(context): used today")
        try #require(usage.reserved == reserved(user, on: today), "\(context): reserved today")
        try #require(usage.shadowRefusals == shadowRefusals[user] ?? 0, "\(context): shadow refusals")
        // Per-day totals: exactly the accepted consumes and settles of each day within retention.
        let expectedDays = counted.filter { $0.key < today && isKept($0.key, today: today) }
        try #require(Dictionary(uniqueKeysWithValues: usage.days.map { ($0.key, $0.value) }) == expectedDays, "\(context): daily records")
        for (date, tokens) in counted where isKept(date, today: today) {
            try #require(usage.tokens(on: date) == tokens, "\(context): tokens on \(date)")
        }
        // Monthly aggregates: what the daily counts say.
        let months = expectedMonths(user)
        try #require(Set(usage.months.keys) == Set(months.keys), "\(context): months")
        for (month, days) in months {
            guard let aggregate = usage.months[month] else { continue }
            let total = days.values.reduce(0, +)
            try #require(Dictionary(uniqueKeysWithValues: aggregate.days.map { ($0.key, $0.value) }) == days, "\(context): \(month) days")
            try #require(aggregate.total == total, "\(context): \(month) total")
            try #require(aggregate.averagePerDay == total / Int64(days.keys.max()!), "\(context): \(month) average")
            let peak = days.max { ($0.value, $1.key) < ($1.value, $0.key) }!
            try #require(aggregate.peak?.day == peak.key && aggregate.peak?.tokens == peak.value, "\(context): \(month) peak")
            try #require(aggregate.tier.value == monthTier[user]?[month], "\(context): \(month) tier")
        }
        // The read the Check method answers with.
        let day = UsageDay(date: today, startsAt: 0, endsAt: 1)
        try #require(ledger.usageStatus(of: user, on: day) == expectedStatus(user, on: day), "\(context): status")
    }

    /// The month-by-tier query over every user agrees with the model's months.
    func compareMonthsByTier(_ ledger: Ledger, _ context: String) throws {
        var all: Set<YearMonth> = []
        for user in UsageZonePropertyTests.users { all.formUnion(expectedMonths(user).keys) }
        try #require(all.count >= 12, "\(context): months kept \(all.count)")
        for month in all {
            var byTier: [String: (users: Int64, total: Int64)] = [:]
            for user in UsageZonePropertyTests.users {
                guard let days = expectedMonths(user)[month], let tier = monthTier[user]?[month] else { continue }
                byTier[tier, default: (0, 0)].users += 1
                byTier[tier, default: (0, 0)].total += days.values.reduce(0, +)
            }
            let answer = ledger.usage.monthByTier(month)
            try #require(answer.map(\.tier) == byTier.keys.sorted(), "\(context): \(month) tiers")
            for entry in answer {
                try #require(entry.users == byTier[entry.tier]?.users && entry.total == byTier[entry.tier]?.total, "\(context): \(month) \(entry.tier)")
            }
        }
    }
}

extension Outcome {
    var usageReceipt: UsageReceipt? {
        if case .usage(let receipt) = self { return receipt }
        return nil
    }

    var refusal: Refusal? {
        if case .refused(let refusal) = self { return refusal }
        return nil
    }
}
