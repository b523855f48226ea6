import SwiftProtobuf
import TallyLedger
import TallyTestSupport
import TallyCodec
import TallyWire
import Testing

@testable import TallyStore

/// The daily-limit state on disk: a snapshot keeps all of it (limits, tiers, overrides, shadow
/// mode, open reservations, daily records and monthly aggregates across months, idempotency
/// records with usage answers), journal records keep usage commands with the day of a
/// non-UTC zone the Writer stamped, and damaged usage state is refused with a clear error.
@Suite struct UsageStoreTests {
    static let micros: Int64 = 1_000_000
    static let hour: Int64 = 3_600 * micros

    /// A day of America/New_York in January or February (UTC-5, no DST change then).
    static func newYorkDay(_ year: Int32, _ month: UInt8, _ day: UInt8) -> UsageDay {
        let date = CivilDay(year: year, month: month, day: day)
        let start = date.dayNumber * 86_400 * micros + 5 * hour
        return UsageDay(date: date, startsAt: start, endsAt: start + 24 * hour)
    }

    /// Applies `command` at `now` on `day`; the answer must not be a refusal unless `refusal` says so.
    static func apply(
        _ ledger: inout Ledger, _ command: Command, at now: Timestamp, on day: UsageDay?, refusal: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let applied = ledger.apply(command, at: now, day: day)
        if case .refused(let refused) = applied.outcome {
            #expect(refused.reason == refusal, "\(command): \(refused)", sourceLocation: sourceLocation)
        } else {
            #expect(refusal == nil, "\(command) was not refused: \(applied.outcome)", sourceLocation: sourceLocation)
        }
    }

    /// A Ledger with every kind of usage state: tiers (one added, one changed), a user in a
    /// tier, one in a tier whose limit was removed, an override, a shadow user and a shadow
    /// tier with would-be refusals, records over January and February, a reservation held
    /// from yesterday and two from today, idempotency records answering consumes, a reserve
    /// and a refusal, and balances beside them.
    static func richLedger() -> (ledger: Ledger, now: Timestamp, today: UsageDay) {
        var ledger = Ledger()
        var now = newYorkDay(2024, 1, 20).startsAt
        func at(_ day: UsageDay, _ offset: Int64) -> Timestamp {
            now = max(now + 1, day.startsAt + offset)
            return now
        }
        let setup: [UsageChange] = [
            .timeZone("America/New_York"), .tierLimit(tier: "trial", tokens: 2_000), .tierLimit(tier: "gold", tokens: 30_000),
            .tierLimit(tier: "bronze", tokens: 500), .userTier(userID: "gina", tier: "gold"), .userTier(userID: "bo", tier: "bronze"),
            .userLimit(userID: "otto", tokens: 700), .userShadow(userID: "sam", on: true), .tierShadow(tier: "subscribed", on: true),
            .userTier(userID: "sue", tier: "subscribed"),
        ]
        for change in setup { apply(&ledger, .changeUsage(change), at: at(newYorkDay(2024, 1, 20), 0), on: nil) }
        apply(&ledger, .credit(Credit(userID: "gina", amount: 5_000, kind: .purchase)), at: now + 1, on: nil)
        apply(&ledger, .spend(Spend(userID: "gina", amount: 1_200)), at: now + 2, on: nil)

        // Usage from Jan 20 to Feb 3, a little every day, so there are records in both months.
        var date = CivilDay(year: 2024, month: 1, day: 20)
        var step = 0
        while date <= CivilDay(year: 2024, month: 2, day: 3) {
            let day = newYorkDay(date.year, date.month, date.day)
            for (user, tokens) in [("gina", 900), ("bo", 120), ("otto", 300), ("sam", 650), ("sue", 80)] as [(String, Int64)] {
                step += 1
                apply(&ledger, .consume(Consume(userID: user, tokens: tokens + Int64(step % 7))), at: at(day, Int64(step) * 60 * micros), on: day)
            }
            date = CivilDay(dayNumber: date.dayNumber + 1)
        }
        // bronze loses its limit: bo falls back to trial, but keeps the tier.
        apply(&ledger, .changeUsage(.tierLimit(tier: "bronze", tokens: nil)), at: now + 1, on: nil)
        now += 1

        // Feb 3, late evening in New York (already Feb 4 in UTC): a reservation that will be
        // held over midnight, then Feb 4's usage.
        let feb3 = newYorkDay(2024, 2, 3)
        apply(&ledger, .reserve(Reserve(userID: "gina", tokens: 4_000, ttlMilliseconds: 3_600_000)), at: at(feb3, 23 * hour + 50 * 60 * micros), on: feb3)
        let feb4 = newYorkDay(2024, 2, 4)
        apply(&ledger, .consume(Consume(userID: "gina", tokens: 1_000, idempotencyKey: "msg-9")), at: at(feb4, 5 * micros), on: feb4)
        apply(&ledger, .reserve(Reserve(userID: "gina", tokens: 2_500, ttlMilliseconds: 30_000, idempotencyKey: "call-3")), at: now + 1, on: feb4)
        apply(&ledger, .reserve(Reserve(userID: "otto", tokens: 200)), at: now + 2, on: feb4)
        apply(&ledger, .consume(Consume(userID: "otto", tokens: 600, idempotencyKey: "msg-10")), at: now + 3, on: feb4, refusal: "DAILY_LIMIT_EXCEEDED")
        apply(&ledger, .consume(Consume(userID: "sam", tokens: 9_999, idempotencyKey: "msg-11")), at: now + 4, on: feb4)  // shadow: counted
        apply(&ledger, .consume(Consume(userID: "sue", tokens: 150_000)), at: now + 5, on: feb4)  // shadow tier: counted
        apply(&ledger, .release(Release(reservationID: 999)), at: now + 6, on: feb4, refusal: "RESERVATION_NOT_FOUND")
        apply(&ledger, .credit(Credit(userID: "gina", amount: 250, kind: .grant, idempotencyKey: "bonus-1")), at: now + 7, on: nil)
        now += 7
        return (ledger, now, feb4)
    }

    @Test func aSnapshotKeepsTheWholeUsageState() throws {
        let (ledger, now, today) = Self.richLedger()
        #expect(ledger.invariantViolations() == [])
        // What the fixture is for, so the round trip below covers it.
        let book = ledger.usage
        #expect(book.limits.timeZone == "America/New_York" && book.limits.shadowTiers == ["subscribed"])
        #expect(book.limits.tiers == ["trial": 2_000, "subscribed": 100_000, "gold": 30_000])
        #expect(book.reservations.count == 3 && book.reservations.values.contains { $0.day == CivilDay(year: 2024, month: 2, day: 3) })
        let gina = try #require(book.usage(of: "gina"))
        #expect(ledger.memberships["gina"]?.tier == "gold" && gina.day == today.date && gina.used == 1_000 && gina.reserved == 2_500)
        #expect(gina.months.keys.sorted() == [YearMonth(year: 2024, month: 1), YearMonth(year: 2024, month: 2)])
        #expect(gina.days.count == 15)
        #expect(ledger.memberships["bo"]?.tier == "bronze" && book.usage(of: "otto")?.limitOverride == 700)
        #expect(book.usage(of: "sam")?.shadow == true && book.usage(of: "sam")?.shadowRefusals == 1)
        #expect(book.usage(of: "sue")?.shadowRefusals == 1)
        #expect(ledger.idempotency.records.count == 5)

        let bytes = try LedgerSnapshot.encode(ledger, journalSequence: 4_242)
        let (decoded, sequence) = try LedgerSnapshot.decode(bytes, config: ledger.config)
        #expect(sequence == 4_242)
        #expect(decoded == ledger)
        #expect(decoded.usage == ledger.usage)
        #expect(decoded.usage.nextReservationID == ledger.usage.nextReservationID)
        #expect(try LedgerSnapshot.stateChecksum(decoded) == LedgerSnapshot.stateChecksum(ledger))
        #expect(try LedgerSnapshot.encode(decoded, journalSequence: 4_242) == bytes, "the encoding is canonical")

        // The decoded Ledger behaves the same: a retry is answered from the snapshot's record,
        // an expiry tick, a settle of yesterday's reservation, a shadow user over the limit.
        var live = ledger, restored = decoded
        let feb3 = CivilDay(year: 2024, month: 2, day: 3)
        let feb3Before = try #require(ledger.usage.usage(of: "gina")?.days[feb3])
        let next: [(Command, Timestamp)] = [
            (.consume(Consume(userID: "gina", tokens: 1_000, idempotencyKey: "msg-9")), now + 1),
            (.consume(Consume(userID: "otto", tokens: 600, idempotencyKey: "msg-10")), now + 2),
            (.expireReservations, now + 60 * Self.micros),
            (.settle(Settle(reservationID: 1, tokens: 4_400)), now + 61 * Self.micros),
            (.consume(Consume(userID: "sam", tokens: 1)), now + 62 * Self.micros),
            (.reserve(Reserve(userID: "bo", tokens: 3_000)), now + 63 * Self.micros),
        ]
        for (command, at) in next {
            let a = live.apply(command, at: at, day: today)
            let b = restored.apply(command, at: at, day: today)
            #expect(a == b, "\(command)")
            #expect(live == restored, "\(command)")
        }
        #expect(restored.usage.usage(of: "gina")?.days[feb3] == feb3Before + 4_400, "yesterday's reservation counts on yesterday")
        #expect(restored.usage.reservations.isEmpty, "the tick released 2 and 3, the settle ended 1")
        #expect(restored.invariantViolations() == [])
    }

    /// Random usage over a few months, snapshotted now and then: every snapshot decodes to
    /// the Ledger it was taken from.
    @Test(arguments: [UInt64(3), 0x5A_F3, 0xC0FF_EE00])
    func snapshotsOfRandomUsageRoundTrip(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var ledger = Ledger(config: LedgerConfig(usageRetention: UsageRetention(days: 10, months: 2)))
        var now = Self.newYorkDay(2024, 1, 1).startsAt
        let users = ["a", "b", "c", "d"]
        for step in 0..<1_500 {
            now += Int64.random(in: 1...(3 * Self.hour), using: &random)
            let utc = UsageDay.utc(containing: now - 5 * Self.hour)
            let day = UsageDay(date: utc.date, startsAt: utc.startsAt + 5 * Self.hour, endsAt: utc.endsAt + 5 * Self.hour)
            let user = random.pick(users)
            let ids = Array(ledger.usage.reservations.keys)
            let command: Command = switch Int.random(in: 0..<10, using: &random) {
            case 0..<4:
                .consume(Consume(userID: user, tokens: Int64.random(in: 1...1_500, using: &random), idempotencyKey: random.chance(20) ? "k\(step)" : ""))
            case 4, 5: .reserve(Reserve(userID: user, tokens: Int64.random(in: 1...900, using: &random), ttlMilliseconds: random.pick([0, 5_000, 3_600_000])))
            case 6: .settle(Settle(reservationID: ids.isEmpty ? 7 : random.pick(ids), tokens: Int64.random(in: 0...2_000, using: &random)))
            case 7: .release(Release(reservationID: ids.isEmpty ? 7 : random.pick(ids)))
            case 8: .expireReservations
            default:
                .changeUsage(random.pick([
                    .userShadow(userID: user, on: random.chance(50)), .userLimit(userID: user, tokens: random.chance(50) ? nil : 3_000),
                    .userTier(userID: user, tier: random.pick([nil, "subscribed", "gone"])), .tierShadow(tier: "trial", on: random.chance(30)),
                    .tierLimit(tier: "trial", tokens: Int64.random(in: 0...12_000, using: &random)),
                ]))
            }
            _ = ledger.apply(command, at: now, day: command.needsUsageDay ? day : nil)
            if step % 100 == 99 {
                let bytes = try LedgerSnapshot.encode(ledger, journalSequence: UInt64(step))
                let (decoded, sequence) = try LedgerSnapshot.decode(bytes, config: ledger.config)
                #expect(decoded == ledger && sequence == UInt64(step), "seed \(seed), step \(step)")
                #expect(try LedgerSnapshot.stateChecksum(decoded) == LedgerSnapshot.stateChecksum(ledger), "seed \(seed), step \(step)")
            }
        }
        #expect(ledger.usage.users.values.contains { $0.months.count == 2 }, "seed \(seed): months past retention were dropped")
        #expect(ledger.invariantViolations() == [], "seed \(seed)")
    }

    // MARK: Journal records

    /// A 23-hour day of New York (2024-03-10, clocks forward): nothing about it is UTC.
    static let springForward = UsageDay(
        date: CivilDay(year: 2024, month: 3, day: 10), startsAt: 1_710_046_800_000_000, endsAt: 1_710_129_600_000_000)

    static let usageCommands: [Command] = [
        .consume(Consume(userID: "gw-user", tokens: 1_250, idempotencyKey: "msg-1")),
        .consume(Consume(userID: "caf\u{E9}", tokens: .max)),
        .reserve(Reserve(userID: "cafe\u{301}", tokens: 4_000, ttlMilliseconds: 3_600_000, idempotencyKey: "call-1")),
        .reserve(Reserve(userID: "u", tokens: 1)),
        .settle(Settle(reservationID: 7, tokens: 0)),
        .settle(Settle(reservationID: .max, tokens: 9_000, idempotencyKey: "done-1")),
        .release(Release(reservationID: 12, idempotencyKey: "cancel-1")),
        .expireReservations,
    ]

    static let usageChanges: [UsageChange] = [
        .tierLimit(tier: "gold", tokens: 50_000), .tierLimit(tier: "gold", tokens: 0), .tierLimit(tier: "gold", tokens: nil),
        .userLimit(userID: "u", tokens: 700), .userLimit(userID: "u", tokens: nil), .userTier(userID: "u", tier: "gold"),
        .userTier(userID: "u", tier: nil), .tierShadow(tier: "trial", on: true), .tierShadow(tier: "trial", on: false),
        .userShadow(userID: "u", on: true), .userShadow(userID: "u", on: false), .defaultTier("subscribed"),
        .timeZone("America/New_York"),
    ]

    @Test(arguments: usageCommands.indices)
    func aUsageCommandWithItsZonesDayReadsBackEqual(index: Int) throws {
        let record = JournalRecord(
            sequence: 900 + UInt64(index), command: Self.usageCommands[index], timestamp: Self.springForward.endsAt - 1,
            day: Self.springForward)
        var bytes: [UInt8] = []
        try record.encode(into: &bytes)
        #expect(JournalRecord.read(bytes[...]) == .record(record, bytes: bytes.count))
        guard case .record(let back, _) = JournalRecord.read(bytes[...]) else { return }
        #expect(back.day == Self.springForward && back.day?.endsAt == 1_710_129_600_000_000)
        // User ids keep their bytes: "café" precomposed and decomposed stay two users.
        if case .consume(let a) = back.command, case .consume(let b) = record.command { #expect(Array(a.userID.utf8) == Array(b.userID.utf8)) }
        if case .reserve(let a) = back.command, case .reserve(let b) = record.command { #expect(Array(a.userID.utf8) == Array(b.userID.utf8)) }
    }

    @Test(arguments: usageChanges.indices)
    func aLimitChangeReadsBackEqualWithoutADay(index: Int) throws {
        let record = JournalRecord(sequence: 1, command: .changeUsage(Self.usageChanges[index]), timestamp: 1_700_000_000_000_000)
        var bytes: [UInt8] = []
        try record.encode(into: &bytes)
        #expect(JournalRecord.read(bytes[...]) == .record(record, bytes: bytes.count), "\(Self.usageChanges[index])")
    }

    /// Records whose stamped day cannot be (a date that does not exist, a day that ends before
    /// it starts, a day without a date) are damage, not data.
    @Test func aRecordWithAnImpossibleDayIsDamaged() throws {
        func framed(_ stamped: Tally_Store_V1_StampedCommand, sequence: UInt64 = 5) throws -> [UInt8] {
            let payload: [UInt8] = try stamped.serializedBytes()
            var bytes: [UInt8] = []
            JournalRecord.appendBigEndian(UInt32(payload.count), to: &bytes)
            JournalRecord.appendBigEndian(JournalRecord.checksum(sequence: sequence, payload: payload[...]), to: &bytes)
            JournalRecord.appendBigEndian(sequence, to: &bytes)
            return bytes + payload
        }
        let good = Tally_Store_V1_StampedCommand(.consume(Consume(userID: "u", tokens: 5)), at: 10, day: Self.springForward)
        let fine = try framed(good)
        #expect(JournalRecord.read(fine[...]) == .record(
            JournalRecord(sequence: 5, command: .consume(Consume(userID: "u", tokens: 5)), timestamp: 10, day: Self.springForward),
            bytes: fine.count))

        var february30 = good
        february30.usageDay.date.month = 2
        february30.usageDay.date.day = 30
        var backwards = good
        backwards.usageDay.endsAtUs = backwards.usageDay.startsAtUs
        var dateless = good
        dateless.usageDay.clearDate()
        var month13 = good
        month13.usageDay.date.month = 13
        for damaged in [february30, backwards, dateless, month13] {
            let bytes = try framed(damaged)
            #expect(JournalRecord.read(bytes[...]) == .damaged("record holds an impossible usage day"), "\(damaged.usageDay)")
        }
    }

    // MARK: Damaged snapshots

    /// The snapshot message of a small valid Ledger with usage state, to damage.
    static func snapshotMessage() throws -> (Tally_Store_V1_Snapshot, LedgerConfig) {
        let (ledger, _, _) = richLedger()
        return (try Tally_Store_V1_Snapshot(serializedBytes: try LedgerSnapshot.encode(ledger)), ledger.config)
    }

    static func expectRefused(
        _ snapshot: Tally_Store_V1_Snapshot, _ config: LedgerConfig, _ message: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let bytes: [UInt8] = try snapshot.serializedBytes()
        #expect(throws: StoreError(message), sourceLocation: sourceLocation) {
            _ = try LedgerSnapshot.decode(bytes, config: config)
        }
    }

    @Test func damagedUsageStateIsRefusedWithAClearError() throws {
        let (snapshot, config) = try Self.snapshotMessage()
        #expect(try LedgerSnapshot.decode(try snapshot.serializedBytes(), config: config).ledger.invariantViolations() == [])
        let users = snapshot.usage.users
        let gina = try #require(users.firstIndex { $0.userID == "gina" })
        #expect(users[gina].hasDay && !users[gina].days.isEmpty && !users[gina].months.isEmpty && !snapshot.usage.reservations.isEmpty)

        var damaged = snapshot
        damaged.usage.users[gina].day = .with {
            $0.year = 2024
            $0.month = 2
            $0.day = 30
        }
        try Self.expectRefused(damaged, config, "usage of gina has an impossible date 2024-2-30")

        damaged = snapshot
        damaged.usage.users[gina].days[0].date.month = 13
        try Self.expectRefused(damaged, config, "usage of gina has an impossible date 2024-13-\(snapshot.usage.users[gina].days[0].date.day)")

        damaged = snapshot
        damaged.usage.users[gina].days.append(snapshot.usage.users[gina].days[0])
        try Self.expectRefused(damaged, config, "usage of gina records a day twice")

        damaged = snapshot
        damaged.usage.reservations[0].day.day = 0
        let reservation = snapshot.usage.reservations[0]
        try Self.expectRefused(
            damaged, config, "usage of \(reservation.userID) has an impossible date \(reservation.day.year)-\(reservation.day.month)-0")

        damaged = snapshot
        damaged.usage.reservations.append(reservation)
        try Self.expectRefused(damaged, config, "reservation \(reservation.id) appears twice")

        damaged = snapshot
        damaged.usage.users[gina].months[0].month = 13
        try Self.expectRefused(damaged, config, "usage of gina has month 13")

        damaged = snapshot
        damaged.usage.users[gina].months[0].days[32] = 1
        try Self.expectRefused(damaged, config, "usage of gina has day 32 in a month")

        damaged = snapshot
        damaged.usage.users[gina].months.append(snapshot.usage.users[gina].months[0])
        try Self.expectRefused(damaged, config, "usage of gina records 2024-01 twice")

        damaged = snapshot
        damaged.usage.users.append(snapshot.usage.users[gina])
        try Self.expectRefused(damaged, config, "usage of gina appears twice")

        damaged = snapshot
        damaged.usage.tiers.append(snapshot.usage.tiers[0])
        try Self.expectRefused(damaged, config, "usage tier \(snapshot.usage.tiers[0].tier) appears twice")

        // Well-formed but breaking the rules: refused by the invariant check (which a caller
        // that checks later can defer).
        damaged = snapshot
        damaged.usage.defaultTier = "nonexistent"
        try Self.expectRefused(damaged, config, "state breaks 1 invariant(s), first: default tier nonexistent has no limit")
        let deferred = try LedgerSnapshot.decode(try damaged.serializedBytes() as [UInt8], config: config, checkInvariants: false)
        #expect(deferred.ledger.invariantViolations() == ["default tier nonexistent has no limit"])

        damaged = snapshot
        damaged.usage.users[gina].reserved += 1
        try Self.expectRefused(damaged, config, "state breaks 1 invariant(s), first: usage of gina: reserved 2501 != open reservations of its day 2500")

        // A user's records and months are stored as one list of days, so parts that disagree
        // cannot be rebuilt at all: refused while decoding, whatever the caller checks later.
        damaged = snapshot
        damaged.usage.users[gina].months[0].total += 1
        let total = snapshot.usage.users[gina].months[0].total
        try Self.expectRefused(damaged, config, "usage of gina: 2024-01 totals \(total + 1), its days sum to \(total)")

        damaged = snapshot
        let record = try #require(snapshot.usage.users[gina].days.first)
        damaged.usage.users[gina].days[0].tokens += 1
        try Self.expectRefused(
            damaged, config,
            "usage of gina: \(CivilDay(year: record.date.year, month: UInt8(record.date.month), day: UInt8(record.date.day))) has \(record.tokens + 1) tokens, its month says \(record.tokens)")
    }
}
