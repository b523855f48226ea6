import HashTreeCollections
import TallyLedger
import TallyCodec
import TallyWire

/// The daily-limit state (UsageBook) as part of a snapshot, and back.
enum UsageSnapshot {
    /// The book as a message; without its users when `users` is false (the snapshot sends
    /// those a part at a time, `encode(user:id:)`).
    static func encode(_ book: UsageBook, users: Bool = true) -> Tally_Store_V1_UsageState {
        var state = Tally_Store_V1_UsageState()
        state.tiers = book.limits.tiers.sorted { $0.key < $1.key }.map { tier, limit in
            Tally_V1_TierLimit.with {
                $0.tier = tier.value
                $0.limit = limit
            }
        }
        state.defaultTier = book.limits.defaultTier.value
        state.shadowTiers = book.limits.shadowTiers.sorted().map(\.value)
        state.timeZone = book.limits.timeZone
        if users {
            state.users = book.users.sorted { $0.key < $1.key }.map { encode(user: $0.value, id: $0.key) }
        }
        state.reservations = book.reservations.sorted { $0.key < $1.key }.map { _, reservation in
            Tally_Store_V1_StoredReservation.with {
                $0.id = reservation.id
                $0.userID = reservation.userID.value
                $0.tokens = reservation.tokens
                $0.day = Tally_Store_V1_CivilDate(reservation.day)
                $0.createdAtUs = reservation.createdAt
                $0.expiresAtUs = reservation.expiresAt
            }
        }
        state.nextReservationID = book.nextReservationID
        return state
    }

    static func encode(user: UserUsage, id: ExactString) -> Tally_Store_V1_UserUsage {
        Tally_Store_V1_UserUsage.with {
            $0.userID = id.value
            if let limit = user.limitOverride { $0.limitOverride = limit }
            $0.shadow = user.shadow
            if let day = user.day { $0.day = Tally_Store_V1_CivilDate(day) }
            $0.used = user.used
            $0.reserved = user.reserved
            $0.shadowRefusals = user.shadowRefusals
            $0.days = user.days.sorted { $0.key < $1.key }.map { date, tokens in
                Tally_Store_V1_DayRecord.with {
                    $0.date = Tally_Store_V1_CivilDate(date)
                    $0.tokens = tokens
                }
            }
            $0.months = user.months.sorted { $0.key < $1.key }.map { month, usage in
                Tally_Store_V1_MonthRecord.with {
                    $0.year = month.year
                    $0.month = UInt32(month.month)
                    $0.days = Dictionary(uniqueKeysWithValues: usage.days.map { (UInt32($0.key), $0.value) })
                    $0.total = usage.total
                    $0.tier = usage.tier.value
                }
            }
        }
    }

    /// Throws on what no run of tallyd writes: impossible dates, duplicates, no default tier.
    static func decode(_ state: Tally_Store_V1_UsageState, retention: UsageRetention) throws -> UsageBook {
        var tiers = TreeDictionary<ExactString, Int64>()
        for tier in state.tiers {
            guard tiers.updateValue(tier.limit, forKey: ExactString(tier.tier)) == nil else {
                throw StoreError("usage tier \(tier.tier) appears twice")
            }
        }
        let limits = UsageLimits(
            tiers: tiers, defaultTier: ExactString(state.defaultTier), shadowTiers: Set(state.shadowTiers.map { ExactString($0) }),
            timeZone: state.timeZone)
        var users = UsageUsers()
        for stored in state.users {
            var days = DayTokens<CivilDay>()
            for record in stored.days {
                guard days.updateValue(record.tokens, forKey: try date(record.date, of: stored.userID)) == nil else {
                    throw StoreError("usage of \(stored.userID) records a day twice")
                }
            }
            var months: [(month: YearMonth, usage: MonthUsage)] = []
            for record in stored.months {
                guard (1...12).contains(record.month) else { throw StoreError("usage of \(stored.userID) has month \(record.month)") }
                var month = MonthUsage(tier: ExactString(record.tier))
                for (day, tokens) in record.days {
                    guard (1...31).contains(day) else { throw StoreError("usage of \(stored.userID) has day \(day) in a month") }
                    month.days[UInt8(day)] = tokens
                }
                month.total = record.total
                let key = YearMonth(year: record.year, month: UInt8(record.month))
                guard !months.contains(where: { $0.month == key }) else {
                    throw StoreError("usage of \(stored.userID) records \(key) twice")
                }
                months.append((key, month))
            }
            let user: UserUsage
            do {
                user = try UserUsage(
                    limitOverride: stored.hasLimitOverride ? stored.limitOverride : nil, shadow: stored.shadow,
                    day: stored.hasDay ? try date(stored.day, of: stored.userID) : nil, used: stored.used, reserved: stored.reserved,
                    shadowRefusals: stored.shadowRefusals, days: days, months: months)
            } catch let error as UsageHistoryError {
                throw StoreError("usage of \(stored.userID): \(error)")
            }
            guard users.updateValue(user, forKey: ExactString(stored.userID)) == nil else {
                throw StoreError("usage of \(stored.userID) appears twice")
            }
        }
        var reservations = TreeDictionary<UInt64, Reservation>()
        for stored in state.reservations {
            let reservation = Reservation(
                id: stored.id, userID: ExactString(stored.userID), tokens: stored.tokens, day: try date(stored.day, of: stored.userID),
                createdAt: stored.createdAtUs, expiresAt: stored.expiresAtUs)
            guard reservations.updateValue(reservation, forKey: stored.id) == nil else {
                throw StoreError("reservation \(stored.id) appears twice")
            }
        }
        return UsageBook(
            limits: limits, users: users, reservations: reservations, nextReservationID: state.nextReservationID,
            retention: retention)
    }

    private static func date(_ stored: Tally_Store_V1_CivilDate, of userID: String) throws -> CivilDay {
        guard let day = stored.ledgerValue else {
            throw StoreError("usage of \(userID) has an impossible date \(stored.year)-\(stored.month)-\(stored.day)")
        }
        return day
    }
}

extension Tally_Store_V1_CivilDate {
    init(_ date: CivilDay) {
        self.init()
        year = date.year
        month = UInt32(date.month)
        day = UInt32(date.day)
    }

    /// nil for a date that does not exist.
    var ledgerValue: CivilDay? {
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        let value = CivilDay(year: year, month: UInt8(month), day: UInt8(day))
        return CivilDay(dayNumber: value.dayNumber) == value ? value : nil
    }
}

extension Tally_Store_V1_UsageDay {
    init(_ day: UsageDay) {
        self.init()
        date = Tally_Store_V1_CivilDate(day.date)
        startsAtUs = day.startsAt
        endsAtUs = day.endsAt
    }

    var ledgerValue: UsageDay? {
        guard hasDate, let date = date.ledgerValue, startsAtUs < endsAtUs else { return nil }
        return UsageDay(date: date, startsAt: startsAtUs, endsAt: endsAtUs)
    }
}
