#if canImport(Glibc)
import Glibc
#endif
import SwiftProtobuf
import TallyCodec
import TallyLedger
import TallyStore  // built and linked through TallyFuzzable (TallyServer depends on it)
import TallyWire

// The fuzz bytes become a config, a start time, a usage time zone and a sequence of
// well-formed commands with hostile fields: credits and spends, and the daily-limit commands
// (consume, reserve, settle, release, limit changes, the expiry tick), some built directly
// and some through the wire messages (so unknown credit kinds and odd SetLimits requests
// arrive as they would from a client). Each is applied at a strictly later time, usage
// commands with the day of the zone holding that time, as the Writer stamps it. After each
// the Ledger must hold its invariants, a refusal must move no tokens and change no usage, a
// command that reports no state change must have changed nothing, validation must agree with
// an independent reading of the limits, and a usage command must have exactly the effect an
// independent reading of its rules predicts. Every state-changing command must survive the
// journal encoding; at the end, replaying the decoded journal on a fresh Ledger must rebuild
// the same state with the same answers, and the snapshot encoding must round-trip the state.

/// FUZZ_LEDGER_TRACE=1 prints each command and its answer (to read a crash input or a seed).
let trace = getenv("FUZZ_LEDGER_TRACE") != nil

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLedger(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var input = FuzzInput(UnsafeBufferPointer(start: data, count: size))
    let ttls: [Int64] = [1, 2, Microseconds.perHour, 24 * Microseconds.perHour]
    let retentions = [UsageRetention(), UsageRetention(days: 1, months: 1), UsageRetention(days: 2, months: 2), UsageRetention(days: 35, months: 1)]
    let header = input.byte()
    let config = LedgerConfig(idempotencyTTL: ttls[Int(header) % ttls.count], usageRetention: retentions[Int(header >> 2) % retentions.count])
    let starts: [Timestamp] = [0, 1_700_000_000_000_000, Int64.max - 3 * config.idempotencyTTL, 1_704_067_199_000_000]
    let startByte = input.byte()
    var now = starts[Int(startByte) % starts.count]
    // Mostly UTC (the Ledger's own day when given none); otherwise a modelled zone.
    var zone = startByte < 128 ? Zone.all[0] : Zone.all[Int((startByte >> 2) - 32) % Zone.all.count]

    var ledger = Ledger(config: config)
    var journal: [(record: JournalRecord, outcome: Outcome)] = []
    var lastDate: CivilDay?
    while !input.isEmpty {
        let (command, nilDayInUTC) = input.command(ledger)
        guard let later = input.later(than: now, ttl: config.idempotencyTTL) else { break }
        now = later
        var day: UsageDay?
        if command.needsUsageDay {
            let zoned = zone.day(containing: now)
            if zone.isUTC {
                let utc = UsageDay.utc(containing: now)
                guard utc == zoned else { fatalError("UsageDay.utc(containing: \(now)) is \(utc), the model says \(zoned)") }
            }
            // Days hold `now` (except at Int64.max itself, which no day can hold) and their
            // dates never go back within one zone.
            guard zoned.contains(now) || now == .max else { fatalError("the fuzzer's zone \(zone) gave \(zoned) for \(now)") }
            if let lastDate, zoned.date < lastDate { fatalError("the fuzzer's zone \(zone) went back to \(zoned) from \(lastDate)") }
            lastDate = zoned.date
            day = zone.isUTC && nilDayInUTC ? nil : zoned
        }
        let before = ledger
        let applied = ledger.apply(command, at: now, day: day)
        if trace { fputs("\(now) \(day.map { "\($0.date) [\($0.startsAt), \($0.endsAt))" } ?? "-"): \(command)\n    -> \(applied)\n", stderr) }
        check(command, applied, at: now, day: day, before: before, after: ledger)
        if applied.changedState {
            let record = JournalRecord(sequence: UInt64(journal.count + 1), command: command, timestamp: now, day: day)
            checkJournal(record)
            journal.append((record, applied.outcome))
        }
        // The Writer follows an accepted zone change: days come from the new zone from the next
        // command on (UTC for a zone the tz database lacks). A change may move the date back
        // by one day, never more (a jump of two, possible between the extreme zones, is left out).
        if case .changeUsage(.timeZone(let name)) = command, case .usageLimits = applied.outcome, !applied.replayed {
            let next = Zone.named(name)
            let date = next.day(containing: now).date
            if lastDate.map({ date.dayNumber >= $0.dayNumber - 1 }) ?? true {
                zone = next
                lastDate = lastDate.map { min($0, date) }
            }
        }
    }

    var replayed = Ledger(config: config)
    for (record, outcome) in journal {
        let again = replayed.apply(record.command, at: record.timestamp, day: record.day)
        guard again.outcome == outcome else {
            fatalError("replaying \(record.command) at \(record.timestamp) on \(String(describing: record.day)) answered \(again.outcome), first \(outcome)")
        }
    }
    guard replayed == ledger else { fatalError("replaying the \(journal.count) state-changing commands gave another state") }

    // The snapshot (what recovery starts from) must hold the whole state, usage included.
    do {
        let bytes = try LedgerSnapshot.encode(ledger, journalSequence: UInt64(journal.count))
        let (decoded, sequence) = try LedgerSnapshot.decode(bytes, config: config)
        guard sequence == UInt64(journal.count) else { fatalError("snapshot sequence \(sequence), expected \(journal.count)") }
        guard decoded == ledger else {
            fatalError("the snapshot round trip changed the state: usage \(decoded.usage == ledger.usage ? "equal" : "differs"), idempotency \(decoded.idempotency == ledger.idempotency ? "equal" : "differs")")
        }
    } catch {
        fatalError("the snapshot of a valid state did not round-trip: \(error)")
    }
    return 0
}

/// Every state-changing command is journaled with its time and day: it must read back the same.
func checkJournal(_ record: JournalRecord) {
    var bytes: [UInt8] = []
    do { try record.encode(into: &bytes) } catch { fatalError("journal record of \(record.command) did not encode: \(error)") }
    guard case .record(let read, let length) = JournalRecord.read(bytes[...]), length == bytes.count, read == record,
        identical(read.command, record.command)
    else {
        fatalError("journal record did not round-trip: \(record) read as \(JournalRecord.read(bytes[...]))")
    }
}

func check(_ command: Command, _ applied: Applied, at now: Timestamp, day: UsageDay?, before: Ledger, after: Ledger) {
    let violations = after.invariantViolations()
    guard violations.isEmpty else { fatalError("invariants broken after \(command): \(violations)") }
    guard applied.changedState || after == before else { fatalError("\(command) changed state but said it did not") }
    let invalid = Validation.check(command)
    if let expected = independentlyInvalid(command) {
        // Invalid commands are refused before anything else, even a replay, and change nothing.
        guard case .refused(let refusal) = applied.outcome, refusal.reason == expected, invalid == refusal,
            !applied.changedState
        else { fatalError("\(command) should be refused \(expected), got \(applied)") }
    } else if invalid != nil {
        fatalError("Validation refused \(command) (\(invalid!.reason)), which is within every limit")
    }
    // A replay answers the first outcome, and only to the very same command under that key.
    let record = before.idempotency.record(for: ExactString(command.idempotencyKey), at: now)
    if applied.replayed {
        guard let record, record.command == command, record.outcome == applied.outcome else {
            fatalError("\(command) replayed \(applied.outcome), but its key holds \(String(describing: record))")
        }
    } else if invalid == nil, !command.idempotencyKey.isEmpty, let record {
        guard record.command != command, case .refused(let refusal) = applied.outcome,
            refusal.reason == "IDEMPOTENCY_KEY_CONFLICT", refusal.code == .alreadyExists
        else { fatalError("\(command) under a live key got \(applied.outcome)") }
    }
    let tokensMoved = after.accounts != before.accounts || after.transactions != before.transactions
        || after.mint != before.mint || after.burn != before.burn || after.nextTransactionID != before.nextTransactionID
    switch applied.outcome {
    case .refused:
        guard !tokensMoved else { fatalError("refused \(command) moved tokens") }
        // A refusal leaves the usage alone, and records nothing but its key (if it has one).
        guard after.usage == before.usage else { fatalError("refused \(command) changed the usage") }
        if command.idempotencyKey.isEmpty || invalid != nil {
            guard after.idempotency.records.allSatisfy({ before.idempotency.records[$0.key] == $0.value }) else {
                fatalError("refused \(command) recorded an idempotency key")
            }
        }
    case .accepted(let receipt):
        guard applied.replayed || (tokensMoved && receipt.transaction.id == before.nextTransactionID) else {
            fatalError("accepted \(command) recorded nothing")
        }
        if applied.replayed && tokensMoved { fatalError("a replay of \(command) moved tokens") }
        guard after.usage == before.usage else { fatalError("\(command) changed the usage") }
    case .usage(let receipt):
        guard !tokensMoved else { fatalError("usage command \(command) moved tokens") }
        checkStatus(receipt.status, of: command)
    case .usageLimits, .expired:
        guard !tokensMoved else { fatalError("usage command \(command) moved tokens") }
    default:  // commands this fuzzer does not generate (yet)
        fatalError("\(command) answered \(applied.outcome), which FuzzLedger has no checks for")
    }
    switch (command, applied.outcome) {
    case (.credit, .accepted), (.spend, .accepted), (_, .refused), (.consume, .usage), (.reserve, .usage), (.settle, .usage),
        (.release, .usage), (.changeUsage, .usageLimits), (.expireReservations, .expired):
        break
    default:
        fatalError("\(command) answered \(applied.outcome)")
    }
    if applied.replayed {
        guard after.usage == before.usage else { fatalError("a replay of \(command) changed the usage") }
    } else if invalid == nil, !(record.map { $0.command != command } ?? false) {
        checkUsage(command, applied.outcome, at: now, on: day ?? UsageDay.utc(containing: now), before: before, after: after)
    }
    checkWire(command, valid: invalid == nil)
}

/// A standing as answered: `remaining` agrees with the counts, and without shadow mode the
/// counts never pass the limit (a consume or reserve past it is refused instead).
func checkStatus(_ status: UsageStatus, of command: Command) {
    let held = Int128(status.used) + Int128(status.reserved)
    guard status.used >= 0, status.reserved >= 0, status.limit >= 0, status.shadowRefusals >= 0,
        Int128(status.remaining) == max(0, Int128(status.limit) - held)
    else { fatalError("\(command) answered an impossible status \(status)") }
    switch command {
    case .consume, .reserve:
        guard status.shadow || held <= Int128(status.limit) else {
            fatalError("\(command) was admitted past the limit without shadow mode: \(status)")
        }
    default:
        break
    }
}

/// The effect of a usage command that is neither invalid nor a replay nor a key conflict,
/// worked out from the book before it and the rules (docs/decisions.md, UsageBook's comments)
/// rather than by calling the book: the outcome it must have, and the change it must make.
func checkUsage(_ command: Command, _ outcome: Outcome, at now: Timestamp, on day: UsageDay, before beforeLedger: Ledger, after afterLedger: Ledger) {
    let before = beforeLedger.usage, after = afterLedger.usage
    func fail(_ what: String) -> Never { fatalError("\(command) at \(now) on \(day): \(what); got \(outcome)") }
    func refused(_ reason: String) {
        guard case .refused(let refusal) = outcome, refusal.reason == reason else { fail("should be refused \(reason)") }
    }
    /// The day a user counts on after this command: its own day, unless `day` is later (after a
    /// zone change that moved the date back, a user keeps its later date until the zone gets there).
    func countingDay(_ user: UserUsage?) -> CivilDay { user?.day.map { max($0, day.date) } ?? day.date }
    /// When the count on `date` resets: the end of `day`, and whole days more for a later date.
    func resetsAt(_ date: CivilDay) -> Timestamp {
        Int64(clamping: Int128(day.endsAt) + Int128(date.dayNumber - day.date.dayNumber) * 86_400_000_000)
    }
    /// Only the named users and reservations may differ.
    func othersUnchanged(users: [ExactString], reservations: [UInt64]) {
        guard after.limits == before.limits, after.retention == before.retention else { fail("the limits changed") }
        for (id, user) in after.users where !users.contains(id) && before.users[id] != user { fail("\(id)'s usage changed") }
        for (id, user) in before.users where !users.contains(id) && after.users[id] != user { fail("\(id)'s usage changed") }
        for (id, r) in after.reservations where !reservations.contains(id) && before.reservations[id] != r { fail("reservation \(id) changed") }
        for (id, r) in before.reservations where !reservations.contains(id) && after.reservations[id] != r { fail("reservation \(id) changed") }
    }
    /// The counting standing before: admission of `tokens` more, as the rules say.
    func admission(_ userID: String, _ tokens: Int64) -> (status: UsageStatus, reason: String?) {
        let was = beforeLedger.usageStatus(of: userID, on: day, at: now)
        let wanted = Int128(was.used) + Int128(was.reserved) + Int128(tokens)
        if wanted > Int128(Int64.max) { return (was, "AMOUNT_OVERFLOW") }
        if wanted > Int128(was.limit) && !was.shadow {
            // The refusal says which day is full and when it resets.
            let date = countingDay(before.users[ExactString(userID)])
            if case .refused(let refusal) = outcome, refusal.reason == "DAILY_LIMIT_EXCEEDED",
                refusal.code != .resourceExhausted || refusal.details["day"] != date.description
                    || refusal.details["resets_at_us"] != String(resetsAt(date))
            {
                fail("the refusal should name \(date), resetting at \(resetsAt(date))")
            }
            return (was, "DAILY_LIMIT_EXCEEDED")
        }
        return (was, nil)
    }
    func expectStatus(_ status: UsageStatus, _ userID: String, used: Int64, reserved: Int64, shadowRefusals: Int64, was: UsageStatus) {
        let date = countingDay(before.users[ExactString(userID)])
        let expected = UsageStatus(
            userID: userID, date: date, used: used, reserved: reserved, limit: was.limit,
            remaining: Int64(max(0, Int128(was.limit) - Int128(used) - Int128(reserved))), resetsAt: resetsAt(date), tier: was.tier,
            shadow: was.shadow, shadowRefusals: shadowRefusals)
        guard status == expected, same(status.userID, userID) else { fail("status should be \(expected)") }
    }

    switch command {
    case .credit, .spend:
        guard after == before else { fail("changed the usage") }

    case .consume(let consume):
        let key = ExactString(consume.userID)
        let (was, admitted) = admission(consume.userID, consume.tokens)
        var reason = admitted
        let date = countingDay(before.users[key])
        // Counting also adds to the day's month, which may overflow on its own.
        if reason == nil, Int128(before.users[key]?.months[YearMonth(date)]?.total ?? 0) + Int128(consume.tokens) > Int128(Int64.max) {
            reason = "AMOUNT_OVERFLOW"
        }
        if let reason { return refused(reason) }
        guard case .usage(let receipt) = outcome, receipt.reservation == nil else { fail("should be counted") }
        let over = Int128(was.used) + Int128(was.reserved) + Int128(consume.tokens) > Int128(was.limit)
        expectStatus(
            receipt.status, consume.userID, used: was.used + consume.tokens, reserved: was.reserved,
            shadowRefusals: was.shadowRefusals + (over ? 1 : 0), was: was)
        guard let user = after.users[key], user.day == date, user.tokens(on: date) == was.used + consume.tokens else {
            fail("\(consume.userID)'s usage is \(String(describing: after.users[key]))")
        }
        othersUnchanged(users: [key], reservations: [])

    case .reserve(let reserve):
        let key = ExactString(reserve.userID)
        let ttl = Int64(reserve.ttlMilliseconds == 0 ? Reserve.defaultTTLMilliseconds : reserve.ttlMilliseconds) * 1_000
        let expiresAt = Int64(clamping: Int128(now) + Int128(ttl))
        let (was, admitted) = admission(reserve.userID, reserve.tokens)
        var reason = admitted
        if expiresAt <= now { reason = "TTL_NOT_POSITIVE" }
        if let reason { return refused(reason) }
        let expected = Reservation(
            id: before.nextReservationID, userID: key, tokens: reserve.tokens, day: countingDay(before.users[key]),
            createdAt: now, expiresAt: expiresAt)
        guard case .usage(let receipt) = outcome, receipt.reservation == expected else { fail("should reserve \(expected)") }
        let over = Int128(was.used) + Int128(was.reserved) + Int128(reserve.tokens) > Int128(was.limit)
        expectStatus(
            receipt.status, reserve.userID, used: was.used, reserved: was.reserved + reserve.tokens,
            shadowRefusals: was.shadowRefusals + (over ? 1 : 0), was: was)
        guard after.reservations[expected.id] == expected, after.nextReservationID == before.nextReservationID + 1 else {
            fail("the reservation was not stored")
        }
        othersUnchanged(users: [key], reservations: [expected.id])

    case .settle(let settle):
        guard let reservation = before.reservations[settle.reservationID] else { return refused("RESERVATION_NOT_FOUND") }
        let user = before.users[reservation.userID]
        let was = beforeLedger.usageStatus(of: reservation.userID.value, on: day, at: now)
        let today = reservation.day == countingDay(user)
        // The real count lands on the reservation's day (today's count or an earlier record)
        // and its month, if kept; any of those may overflow.
        let month = user?.months[YearMonth(reservation.day)]?.total ?? 0
        let onDay = today ? was.used : user?.days[reservation.day] ?? 0
        if Int128(onDay) + Int128(settle.tokens) > Int128(Int64.max) || Int128(month) + Int128(settle.tokens) > Int128(Int64.max) {
            // Not certain: a record past retention is not counted at all.
            if case .refused(let refusal) = outcome, refusal.reason == "AMOUNT_OVERFLOW" { return }
        }
        guard case .usage(let receipt) = outcome, receipt.reservation == reservation else { fail("should settle \(reservation)") }
        expectStatus(
            receipt.status, reservation.userID.value, used: was.used + (today ? settle.tokens : 0),
            reserved: was.reserved - (today ? reservation.tokens : 0), shadowRefusals: was.shadowRefusals, was: was)
        guard after.reservations[settle.reservationID] == nil, after.nextReservationID == before.nextReservationID else {
            fail("the reservation is still open")
        }
        othersUnchanged(users: [reservation.userID], reservations: [reservation.id])

    case .release(let release):
        guard let reservation = before.reservations[release.reservationID] else { return refused("RESERVATION_NOT_FOUND") }
        let was = beforeLedger.usageStatus(of: reservation.userID.value, on: day, at: now)
        let today = reservation.day == countingDay(before.users[reservation.userID])
        guard case .usage(let receipt) = outcome, receipt.reservation == reservation else { fail("should release \(reservation)") }
        expectStatus(
            receipt.status, reservation.userID.value, used: was.used, reserved: was.reserved - (today ? reservation.tokens : 0),
            shadowRefusals: was.shadowRefusals, was: was)
        guard after.reservations[release.reservationID] == nil, after.nextReservationID == before.nextReservationID else {
            fail("the reservation is still open")
        }
        othersUnchanged(users: [reservation.userID], reservations: [reservation.id])

    case .expireReservations:
        let due = before.reservations.values.filter { $0.expiresAt <= now }.sorted { $0.id < $1.id }
        guard outcome == .expired(due) else { fail("should release \(due.map(\.id))") }
        guard after.reservations.count == before.reservations.count - due.count,
            after.reservations.allSatisfy({ before.reservations[$0.key] == $0.value && $0.value.expiresAt > now })
        else { fail("other reservations changed") }
        for reservation in due {
            let user = after.users[reservation.userID]
            guard let user, user.day == countingDay(before.users[reservation.userID]) else { fail("\(reservation.userID) did not move to today") }
        }
        othersUnchanged(users: due.map(\.userID), reservations: due.map(\.id))

    case .changeUsage(let change):
        var limits = before.limits
        var users: [ExactString] = []
        func user(_ id: String, _ change: (inout UserUsage) -> Void) {
            let key = ExactString(id)
            var usage = before.users[key] ?? UserUsage()
            change(&usage)
            guard after.users[key] == usage else { fail("\(id)'s usage should be \(usage), is \(String(describing: after.users[key]))") }
            users.append(key)
        }
        switch change {
        case .tierLimit(let tier, let tokens):
            if tokens == nil && ExactString(tier) == before.limits.defaultTier { return refused("DEFAULT_TIER_NEEDS_LIMIT") }
            limits.tiers[ExactString(tier)] = tokens
        case .defaultTier(let tier):
            if before.limits.tiers[ExactString(tier)] == nil { return refused("TIER_NOT_FOUND") }
            limits.defaultTier = ExactString(tier)
        case .tierShadow(let tier, let on):
            if on { limits.shadowTiers.insert(ExactString(tier)) } else { limits.shadowTiers.remove(ExactString(tier)) }
        case .timeZone(let zone):
            limits.timeZone = zone
        case .userLimit(let id, let tokens): user(id) { $0.limitOverride = tokens }
        case .userTier(let id, let tier):
            // A membership without expiry, kept by the Ledger (the usage book is untouched).
            if let tier, before.limits.tiers[ExactString(tier)] == nil { return refused("TIER_NOT_FOUND") }
            let expected = tier.map { Membership(tier: ExactString($0), expiresAt: nil, updatedAt: now) }
            guard afterLedger.memberships[ExactString(id)] == expected else { fail("\(id)'s membership should be \(String(describing: expected))") }
        case .userShadow(let id, let on): user(id) { $0.shadow = on }
        }
        guard outcome == .usageLimits(after.limits), after.limits == limits, same(after.limits.timeZone, limits.timeZone) else {
            fail("the limits should be \(limits)")
        }
        guard after.reservations == before.reservations, after.nextReservationID == before.nextReservationID else {
            fail("reservations changed")
        }
        for (id, u) in after.users where !users.contains(id) && before.users[id] != u { fail("\(id)'s usage changed") }
        for (id, u) in before.users where !users.contains(id) && after.users[id] != u { fail("\(id)'s usage changed") }

    default:
        fail("FuzzLedger has no usage check for this command")
    }
}

/// The wire mapping (also the journal's) must carry a valid command unchanged. (An invalid one
/// may not: a SetLimits user_tier of "" means the default tier, and a shadow change for an
/// empty name names nothing. Such commands are refused, so never journaled.)
func checkWire(_ command: Command, valid: Bool) {
    func trip<M: SwiftProtobuf.Message>(_ message: M) -> M? { try? M(serializedBytes: message.serializedBytes() as [UInt8]) }
    switch command {
    case .credit(let c):
        guard trip(Tally_V1_CreditRequest(c))?.ledgerValue == c else { fatalError("credit did not survive the wire: \(c)") }
    case .spend(let s):
        guard trip(Tally_V1_SpendRequest(s))?.ledgerValue == s else { fatalError("spend did not survive the wire: \(s)") }
    case .consume(let c):
        guard trip(Tally_V1_ConsumeRequest(c))?.ledgerValue == c else { fatalError("consume did not survive the wire: \(c)") }
    case .reserve(let r):
        guard trip(Tally_V1_ReserveRequest(r))?.ledgerValue == r else { fatalError("reserve did not survive the wire: \(r)") }
    case .settle(let s):
        guard trip(Tally_V1_SettleRequest(s))?.ledgerValue == s else { fatalError("settle did not survive the wire: \(s)") }
    case .release(let r):
        guard trip(Tally_V1_ReleaseRequest(r))?.ledgerValue == r else { fatalError("release did not survive the wire: \(r)") }
    case .changeUsage(let change):
        let back = trip(Tally_V1_SetLimitsRequest(change)).map { try? $0.ledgerValue.get() } ?? nil
        guard !valid || back.map({ Command.changeUsage($0) == .changeUsage(change) && sameStrings($0, change) }) == true else {
            fatalError("limit change did not survive the wire: \(change) came back as \(String(describing: back))")
        }
    case .expireReservations:
        break
    default:
        fatalError("FuzzLedger has no wire check for \(command)")
    }
}

/// UsageChange's == compares strings as Swift does (canonical equivalence); the wire must keep bytes.
func sameStrings(_ a: UsageChange, _ b: UsageChange) -> Bool {
    func parts(_ c: UsageChange) -> [String] {
        switch c {
        case .tierLimit(let t, _), .tierShadow(let t, _), .defaultTier(let t), .timeZone(let t): [t]
        case .userLimit(let u, _), .userShadow(let u, _): [u]
        case .userTier(let u, let t): [u, t ?? "\u{0}nil"]
        }
    }
    return parts(a).elementsEqual(parts(b)) { same($0, $1) }
}

func same(_ a: String, _ b: String) -> Bool { a.utf8.elementsEqual(b.utf8) }

/// Equal, and byte for byte so in a limit change too.
func identical(_ a: Command, _ b: Command) -> Bool {
    guard a == b else { return false }
    if case .changeUsage(let x) = a, case .changeUsage(let y) = b { return sameStrings(x, y) }
    return true
}

/// docs/protocol.md §10, written out again rather than calling Validation: the reason the
/// first failing field (in Validation's order) must be refused with, or nil when valid.
func independentlyInvalid(_ command: Command) -> String? {
    func text(_ s: String, _ limit: Int) -> String? { s.utf8.count > limit ? "FIELD_TOO_LONG" : nil }
    func control(_ s: String) -> Bool { s.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) } }
    func user(_ id: String) -> String? {
        if id.utf8.isEmpty { return "USER_ID_EMPTY" }
        if id.utf8.count > Limits.maxUserIDBytes { return "FIELD_TOO_LONG" }
        return control(id) ? "USER_ID_INVALID" : nil
    }
    // Tier names: the control check comes before the length here.
    func tier(_ name: String) -> String? {
        if name.utf8.isEmpty { return "TIER_EMPTY" }
        if control(name) { return "TIER_INVALID" }
        return text(name, Limits.maxNameBytes)
    }
    func limit(_ tokens: Int64?) -> String? { (tokens ?? 0) < 0 ? "LIMIT_NEGATIVE" : nil }
    func amount(_ a: Int64) -> String? { a > 0 ? nil : "AMOUNT_NOT_POSITIVE" }
    func key(_ k: String) -> String? { text(k, Limits.maxIdempotencyKeyBytes) }
    switch command {
    case .credit(let c):
        return user(c.userID) ?? amount(c.amount) ?? (c.kind == nil ? "CREDIT_KIND_MISSING" : nil)
            ?? text(c.reference, Limits.maxReferenceBytes) ?? text(c.memo, Limits.maxMemoBytes)
            ?? key(c.idempotencyKey)
    case .spend(let s):
        return user(s.userID) ?? amount(s.amount) ?? text(s.reference, Limits.maxReferenceBytes)
            ?? text(s.memo, Limits.maxMemoBytes) ?? key(s.idempotencyKey)
    case .consume(let c):
        return user(c.userID) ?? amount(c.tokens) ?? key(c.idempotencyKey)
    case .reserve(let r):
        return user(r.userID) ?? amount(r.tokens) ?? key(r.idempotencyKey)
            ?? (r.ttlMilliseconds > 3_600_000 ? "TTL_OUT_OF_RANGE" : nil)
    case .settle(let s):
        return (s.tokens < 0 ? "AMOUNT_NEGATIVE" : nil) ?? key(s.idempotencyKey)
    case .release(let r):
        return key(r.idempotencyKey)
    case .expireReservations:
        return nil
    case .changeUsage(let change):
        switch change {
        case .tierLimit(let t, let tokens): return tier(t) ?? limit(tokens)
        case .userLimit(let u, let tokens): return user(u) ?? limit(tokens)
        case .userTier(let u, let t): return user(u) ?? t.flatMap(tier)
        case .tierShadow(let t, _), .defaultTier(let t): return tier(t)
        case .userShadow(let u, _): return user(u)
        case .timeZone(let zone):
            let allowed = zone.unicodeScalars.allSatisfy { s in
                ("A"..."Z").contains(s) || ("a"..."z").contains(s) || ("0"..."9").contains(s) || "/_+-".unicodeScalars.contains(s)
            }
            return zone.utf8.isEmpty || !allowed ? "TIME_ZONE_INVALID" : text(zone, Limits.maxNameBytes)
        }
    default:
        fatalError("FuzzLedger has no independent validation of \(command)")
    }
}

/// A model of a usage time zone: a fixed offset from UTC in whole hours, and optionally
/// daylight saving that moves midnight an hour later for `dstPeriod` days in turn, so days are
/// 23, 24 or 25 hours long. Days partition time, so their dates never go back.
struct Zone: CustomStringConvertible {
    var name: String
    var offsetHours: Int64
    var dstPeriod: Int64

    var isUTC: Bool { offsetHours == 0 && dstPeriod == 0 }
    var description: String { "\(name) (UTC\(offsetHours >= 0 ? "+" : "")\(offsetHours), DST period \(dstPeriod))" }

    static let all: [Zone] = [
        Zone(name: "UTC", offsetHours: 0, dstPeriod: 0),
        Zone(name: "Europe/Berlin", offsetHours: 1, dstPeriod: 3),
        Zone(name: "Asia/Tokyo", offsetHours: 9, dstPeriod: 0),
        Zone(name: "Pacific/Kiritimati", offsetHours: 14, dstPeriod: 0),
        Zone(name: "Pacific/Pago_Pago", offsetHours: -11, dstPeriod: 0),
        Zone(name: "America/New_York", offsetHours: -5, dstPeriod: 2),
        Zone(name: "Etc/GMT+12", offsetHours: -12, dstPeriod: 0),
        Zone(name: "Pacific/Apia", offsetHours: 13, dstPeriod: 1),
        Zone(name: "Etc/GMT", offsetHours: 0, dstPeriod: 1),
        Zone(name: "Etc/GMT+14", offsetHours: -14, dstPeriod: 4),
        Zone(name: "Europe/London", offsetHours: 0, dstPeriod: 5),
    ]

    /// The Writer's zone after a change to `name`: UTC for a zone it does not know.
    static func named(_ name: String) -> Zone { all.first { same($0.name, name) } ?? all[0] }

    /// The day holding `now` (for Int64.max, the last day, which ends there).
    func day(containing now: Timestamp) -> UsageDay {
        let dayLength: Int128 = 86_400_000_000, hour: Int128 = 3_600_000_000
        func floorDiv(_ a: Int128, _ b: Int128) -> Int128 { a % b < 0 ? a / b - 1 : a / b }
        func shift(_ n: Int128) -> Int128 {
            guard dstPeriod > 0 else { return 0 }
            let p = Int128(dstPeriod)
            return (n % (2 * p) + 2 * p) % (2 * p) >= p ? hour : 0
        }
        func boundary(_ n: Int128) -> Int128 { n * dayLength - Int128(offsetHours) * hour + shift(n) }
        let guess = floorDiv(Int128(now) + Int128(offsetHours) * hour, dayLength)
        let n = [guess - 1, guess, guess + 1].first { boundary($0) <= Int128(now) && Int128(now) < boundary($0 + 1) } ?? guess
        return UsageDay(
            date: CivilDay(dayNumber: Int64(n)), startsAt: Int64(clamping: boundary(n)), endsAt: Int64(clamping: boundary(n + 1)))
    }
}

/// Reads the fuzz bytes as choices; past the end every read is 0, so any input is a sequence.
struct FuzzInput {
    var bytes: ArraySlice<UInt8>
    init(_ buffer: UnsafeBufferPointer<UInt8>) { bytes = ArraySlice(buffer) }
    var isEmpty: Bool { bytes.isEmpty }

    mutating func byte() -> UInt8 { bytes.popFirst() ?? 0 }

    mutating func raw(_ count: Int) -> ArraySlice<UInt8> {
        let taken = bytes.prefix(count)
        bytes = bytes.dropFirst(count)
        return taken
    }

    mutating func int64() -> Int64 {
        raw(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    mutating func amount() -> Int64 {
        let hostile: [Int64] = [Int64.min, Int64.min + 1, -1, 0, 1, 2, 100, Int64.max / 2, Int64.max / 2 + 1, Int64.max - 1, Int64.max]
        let pick = Int(byte())
        return pick < hostile.count ? hostile[pick] : pick < 128 ? Int64(pick) : int64()
    }

    /// Token counts: around the default tiers' limits (10 000 and 100 000), small ones that add
    /// up, and the hostile ones.
    mutating func tokens() -> Int64 {
        let near: [Int64] = [1, 10, 100, 1_000, 5_000, 9_999, 10_000, 10_001, 50_000, 99_999, 100_000, 100_001, 0, -1, Int64.min,
            Int64.max, Int64.max - 1, Int64.max / 2, Int64.max / 2 + 1, 2]
        let pick = Int(byte())
        return pick < near.count ? near[pick] : pick < 224 ? Int64(pick) * 97 : int64()
    }

    /// A daily limit: nil (remove or clear), at and around 0, negative, huge.
    mutating func limit() -> Int64? {
        let hostile: [Int64?] = [nil, nil, 0, 1, 10, 100, 1_000, 10_000, 100_000, -1, Int64.min, Int64.max, Int64.max - 1, 5_000, nil, 500]
        let pick = Int(byte())
        return pick < 192 ? hostile[pick % hostile.count] : pick < 224 ? Int64(pick) * 31 : int64()
    }

    /// A few shared names so accounts and keys repeat, strings at and past each limit (in
    /// bytes, with multi-byte characters across the boundary), control characters, canonically
    /// equivalent spellings, and raw bytes (invalid UTF-8 repaired as a String would be).
    mutating func string() -> String {
        let pick = byte()
        switch pick % 16 {
        case 0, 1: return ""
        case 2: return ["alice", "bob", "k1", "k2"][Int(pick >> 4) % 4]
        case 3: return ["caf\u{E9}", "cafe\u{301}", "\u{FEFF}alice", "alice\u{200B}"][Int(pick >> 4) % 4]
        case 4: return ["\u{0}", "a\u{1F}b", "\u{7F}", "x\u{85}", "\u{9F}", "\n", "\u{2028}", "\u{FFFD}"][Int(pick >> 4) % 8]
        case 5, 6:
            let limits = [Limits.maxUserIDBytes, Limits.maxReferenceBytes, Limits.maxMemoBytes, Limits.maxIdempotencyKeyBytes]
            let n = limits[Int(pick >> 4) % 4] + (pick % 16 == 6 ? 1 : 0)
            return String(repeating: "a", count: n)
        case 7: return String(repeating: "\u{E9}", count: 64 + Int(pick >> 4) % 2)  // 128 or 130 bytes
        case 8: return String(repeating: "\u{1F600}", count: 32 + Int(pick >> 4) % 2)  // 128 or 132 bytes
        case 9: return String(repeating: "z", count: 1 << (10 + Int(pick >> 4) % 5))  // up to 16 KiB
        default: return String(decoding: raw(Int(byte()) % 48), as: UTF8.self)
        }
    }

    /// A user of the daily limits: mostly one of four, so counts add up.
    mutating func usageUser() -> String {
        let pick = byte()
        return pick < 160 ? ["alice", "bob", "carol", "caf\u{E9}"][Int(pick) % 4] : string()
    }

    /// A tier name: the default tiers, the current default, existing tiers, and hostile ones
    /// (empty, control characters, at and past 64 bytes, equivalent spellings).
    mutating func tierName(_ ledger: Ledger) -> String {
        let pick = byte()
        let variant = Int(pick >> 4)
        switch pick % 16 {
        case 0, 1, 2: return ["trial", "subscribed", "pro", "free"][variant % 4]
        case 3: return ledger.usage.limits.defaultTier.value
        case 4:
            let tiers = ledger.usage.limits.tiers.keys.sorted()
            return tiers.isEmpty ? "" : tiers[variant % tiers.count].value
        case 5: return ""
        case 6: return ["\u{0}", "a\u{7}", "\u{7F}", "x\u{85}t", "\u{9F}", "trial\n", "\u{1F}", "pro\u{80}"][variant % 8]
        case 7: return String(repeating: "t", count: 64 + variant % 2)
        case 8: return [String(repeating: "\u{E9}", count: 32), String(repeating: "\u{E9}", count: 33),
                        String(repeating: "\u{1F600}", count: 16), String(repeating: "\u{1F600}", count: 17)][variant % 4]
        case 9: return ["caf\u{E9}", "cafe\u{301}", "Trial", "trial "][variant % 4]
        default: return string()
        }
    }

    /// A zone name: ones the fuzzer's zones model, names the tz database lacks but validation
    /// lets through, and invalid ones.
    mutating func zoneName() -> String {
        let pick = byte()
        if pick < 128 { return Zone.all[Int(pick) % Zone.all.count].name }
        let other = ["", "Europe/Berlin\n", "../etc/passwd", "Europe Berlin", "Z\u{FC}rich", "UTC\u{0}", String(repeating: "A", count: 64),
            String(repeating: "A", count: 65), "Not/A_Zone", "+05:00", "Etc/GMT-14", "utc", "\u{FF21}sia/Tokyo", "-", "America/Argentina/Buenos_Aires"]
        return pick < 128 + 15 * 8 ? other[Int(pick - 128) % other.count] : string()
    }

    mutating func ttlMilliseconds() -> UInt32 {
        let hostile: [UInt32] = [0, 1, 2, 999, 1_000, 60_000, 3_599_999, 3_600_000, 3_600_001, UInt32.max, 86_400_000, 0, 10, 30_000]
        let pick = Int(byte())
        return pick < 224 ? hostile[pick % hostile.count] : UInt32(truncatingIfNeeded: int64())
    }

    /// Mostly an open reservation's id; also 0, the next id, ids already closed, and huge ones.
    mutating func reservationID(_ ledger: Ledger) -> UInt64 {
        let pick = byte()
        let open = ledger.usage.reservations.keys.sorted()
        let next = ledger.usage.nextReservationID
        if pick < 176, !open.isEmpty { return open[Int(pick) % open.count] }
        switch pick % 6 {
        case 0: return 0
        case 1: return next
        case 2: return next - 1
        case 3: return UInt64.max
        case 4: return UInt64(bitPattern: int64())
        default: return UInt64(pick % 8) + 1
        }
    }

    /// The next command, and whether a usage day in UTC goes as nil (the Ledger's own UTC day).
    /// The op byte: its top five bits pick the command (0 to 4: a credit or spend, as before
    /// usage existed, so older seeds read the same), bit 0 whether it comes through the wire,
    /// bit 2 whether it has an idempotency key, bit 1 the nil day (usage) or credit vs spend.
    mutating func command(_ ledger: Ledger) -> (Command, nilDay: Bool) {
        let op = byte()
        let wire = op & 1 == 1, nilDay = op & 2 == 2
        switch op >> 3 {
        case 0...4: return (creditOrSpend(op), false)
        case 5...10:
            let user = usageUser(), tokens = tokens()
            let key = op & 4 == 0 ? "" : string()
            if wire {
                var message = Tally_V1_ConsumeRequest()
                message.userID = user
                message.tokens = tokens
                message.idempotencyKey = key
                return (.consume(message.ledgerValue), nilDay)
            }
            return (.consume(Consume(userID: user, tokens: tokens, idempotencyKey: key)), nilDay)
        case 11...16:
            let user = usageUser(), tokens = tokens(), ttl = ttlMilliseconds()
            let key = op & 4 == 0 ? "" : string()
            if wire {
                var message = Tally_V1_ReserveRequest()
                message.userID = user
                message.tokens = tokens
                message.ttlMs = ttl
                message.idempotencyKey = key
                return (.reserve(message.ledgerValue), nilDay)
            }
            return (.reserve(Reserve(userID: user, tokens: tokens, ttlMilliseconds: ttl, idempotencyKey: key)), nilDay)
        case 17...20:
            let id = reservationID(ledger), tokens = tokens()
            let key = op & 4 == 0 ? "" : string()
            if wire {
                var message = Tally_V1_SettleRequest()
                message.reservationID = id
                message.tokens = tokens
                message.idempotencyKey = key
                return (.settle(message.ledgerValue), nilDay)
            }
            return (.settle(Settle(reservationID: id, tokens: tokens, idempotencyKey: key)), nilDay)
        case 21...23:
            let id = reservationID(ledger)
            let key = op & 4 == 0 ? "" : string()
            if wire {
                var message = Tally_V1_ReleaseRequest()
                message.reservationID = id
                message.idempotencyKey = key
                return (.release(message.ledgerValue), nilDay)
            }
            return (.release(Release(reservationID: id, idempotencyKey: key)), nilDay)
        case 24...29:
            return (wire ? wireChange(ledger) : .changeUsage(change(ledger)), nilDay)
        default:
            return (.expireReservations, nilDay)
        }
    }

    mutating func change(_ ledger: Ledger) -> UsageChange {
        let pick = byte()
        switch pick % 8 {
        case 0: return .tierLimit(tier: tierName(ledger), tokens: limit())
        case 1: return .userLimit(userID: usageUser(), tokens: limit())
        case 2: return .userTier(userID: usageUser(), tier: pick & 0x80 == 0 ? tierName(ledger) : nil)
        case 3: return .tierShadow(tier: tierName(ledger), on: pick & 0x80 == 0)
        case 4: return .userShadow(userID: usageUser(), on: pick & 0x80 == 0)
        case 5: return .defaultTier(tierName(ledger))
        case 6: return .timeZone(zoneName())
        default:  // removing the default tier's limit
            return .tierLimit(tier: ledger.usage.limits.defaultTier.value, tokens: pick & 0x80 == 0 ? nil : limit())
        }
    }

    /// A SetLimits request as a client may send it (remove with a limit, shadow naming both or
    /// neither, no change at all), mapped as the server maps it. A request that names no change
    /// is answered by the mapping's refusal (checked here) and becomes the expiry tick.
    mutating func wireChange(_ ledger: Ledger) -> Command {
        let pick = byte()
        var message = Tally_V1_SetLimitsRequest()
        var expected: String?
        switch pick % 8 {
        case 0:
            message.tierLimit = .with {
                $0.tier = tierName(ledger)
                $0.limit = limit() ?? 0
                $0.remove = pick & 0x80 != 0
            }
        case 1:
            message.userLimit = .with {
                $0.userID = usageUser()
                $0.limit = limit() ?? 0
                $0.clear = pick & 0x80 != 0
            }
        case 2:
            message.userTier = .with {
                $0.userID = usageUser()
                $0.tier = pick & 0x80 != 0 ? "" : tierName(ledger)
            }
        case 3, 4:
            let tier = pick & 0x40 == 0 ? tierName(ledger) : "", user = pick & 0x20 == 0 ? usageUser() : ""
            message.shadow = .with {
                $0.tier = tier
                $0.userID = user
                $0.on = pick & 0x80 != 0
            }
            if tier.isEmpty == user.isEmpty { expected = "SHADOW_TARGET_INVALID" }
        case 5: message.defaultTier = tierName(ledger)
        case 6: message.timeZone = zoneName()
        default: expected = "CHANGE_MISSING"
        }
        // Through the bytes, as it arrives.
        guard let received = try? Tally_V1_SetLimitsRequest(serializedBytes: message.serializedBytes() as [UInt8]) else {
            fatalError("SetLimitsRequest did not survive its own encoding: \(message)")
        }
        switch received.ledgerValue {
        case .success(let change):
            guard expected == nil else { fatalError("\(message) mapped to \(change), not \(expected!)") }
            return .changeUsage(change)
        case .failure(let refusal):
            guard refusal.reason == expected, refusal.code == .invalidArgument else {
                fatalError("\(message) refused \(refusal.reason), expected \(expected ?? "a change")")
            }
            return .expireReservations
        }
    }

    mutating func creditOrSpend(_ op: UInt8) -> Command {
        let user = string(), amount = amount(), reference = string(), memo = string()
        let key = op & 4 == 0 ? "" : string()
        if op & 1 == 0 {
            // Through the wire message, with any kind number: unknown ones must be refused.
            if op & 2 == 0 {
                var wire = Tally_V1_CreditRequest()
                wire.userID = user
                wire.amount = amount
                wire.kind = Tally_V1_CreditKind(rawValue: Int(Int8(bitPattern: byte()))) ?? .unspecified
                wire.reference = reference
                wire.memo = memo
                wire.idempotencyKey = key
                return .credit(wire.ledgerValue)
            }
            let kind = CreditKind(rawValue: Int(byte()) % 6)  // 0 and 5 are nil
            return .credit(Credit(userID: user, amount: amount, kind: kind, reference: reference, memo: memo, idempotencyKey: key))
        }
        if op & 2 == 0 {
            var wire = Tally_V1_SpendRequest()
            wire.userID = user
            wire.amount = amount
            wire.reference = reference
            wire.memo = memo
            wire.idempotencyKey = key
            return .spend(wire.ledgerValue)
        }
        return .spend(Spend(userID: user, amount: amount, reference: reference, memo: memo, idempotencyKey: key))
    }

    /// The next timestamp, strictly later: steps around the idempotency TTL, the reservation
    /// TTLs, hours and days (so days roll, in every zone) and long gaps past retention. nil when
    /// time would run past Int64.max (the sequence ends there).
    mutating func later(than now: Timestamp, ttl: Int64) -> Timestamp? {
        let hour: Int64 = 3_600_000_000, day = 24 * hour
        let steps: [Int64] = [1, 1, 1, 1_000_000, ttl - 1, ttl, ttl + 1, 2 * ttl,
            60_000_000, hour, hour + 1, day, day - 1, 23 * hour, 40 * day, 400 * day]
        let (next, overflow) = now.addingReportingOverflow(max(1, steps[Int(byte()) % steps.count]))
        return overflow ? nil : next
    }
}
