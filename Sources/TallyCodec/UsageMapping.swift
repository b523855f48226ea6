import HashTreeCollections
import TallyLedger
import TallyWire

// Conversions between the daily-limit values and their wire messages (tally.v1.Usage). The
// store reuses them, so a usage command is journaled in exactly the form a client sent it.

extension Tally_V1_UsageStatus {
    public init(_ status: UsageStatus) {
        self.init()
        userID = status.userID
        date = status.date.description
        used = status.used
        reserved = status.reserved
        limit = status.limit
        remaining = status.remaining
        resetsAtUs = status.resetsAt
        tier = status.tier.value
        shadow = status.shadow
        shadowRefusals = status.shadowRefusals
    }

    /// nil when the date is not one (a damaged record).
    public var ledgerValue: UsageStatus? {
        guard let date = CivilDay(parsing: date) else { return nil }
        return UsageStatus(
            userID: userID, date: date, used: used, reserved: reserved, limit: limit, remaining: remaining,
            resetsAt: resetsAtUs, tier: ExactString(tier), shadow: shadow, shadowRefusals: shadowRefusals)
    }
}

extension Tally_V1_Reservation {
    public init(_ reservation: Reservation) {
        self.init()
        id = reservation.id
        userID = reservation.userID.value
        tokens = reservation.tokens
        date = reservation.day.description
        createdAtUs = reservation.createdAt
        expiresAtUs = reservation.expiresAt
    }

    public var ledgerValue: Reservation? {
        guard let day = CivilDay(parsing: date) else { return nil }
        return Reservation(
            id: id, userID: ExactString(userID), tokens: tokens, day: day, createdAt: createdAtUs, expiresAt: expiresAtUs)
    }
}

extension Tally_V1_ConsumeRequest {
    public init(_ consume: Consume) {
        self.init()
        userID = consume.userID
        tokens = consume.tokens
        idempotencyKey = consume.idempotencyKey
    }

    public var ledgerValue: Consume { Consume(userID: userID, tokens: tokens, idempotencyKey: idempotencyKey) }
}

extension Tally_V1_ReserveRequest {
    public init(_ reserve: Reserve) {
        self.init()
        userID = reserve.userID
        tokens = reserve.tokens
        ttlMs = reserve.ttlMilliseconds
        idempotencyKey = reserve.idempotencyKey
    }

    public var ledgerValue: Reserve {
        Reserve(userID: userID, tokens: tokens, ttlMilliseconds: ttlMs, idempotencyKey: idempotencyKey)
    }
}

extension Tally_V1_SettleRequest {
    public init(_ settle: Settle) {
        self.init()
        reservationID = settle.reservationID
        tokens = settle.tokens
        idempotencyKey = settle.idempotencyKey
    }

    public var ledgerValue: Settle { Settle(reservationID: reservationID, tokens: tokens, idempotencyKey: idempotencyKey) }
}

extension Tally_V1_ReleaseRequest {
    public init(_ release: Release) {
        self.init()
        reservationID = release.reservationID
        idempotencyKey = release.idempotencyKey
    }

    public var ledgerValue: Release { Release(reservationID: reservationID, idempotencyKey: idempotencyKey) }
}

extension Tally_V1_SetLimitsRequest {
    public init(_ change: UsageChange) {
        self.init()
        switch change {
        case .tierLimit(let tier, let tokens):
            tierLimit = .with {
                $0.tier = tier
                $0.limit = tokens ?? 0
                $0.remove = tokens == nil
            }
        case .userLimit(let userID, let tokens):
            userLimit = .with {
                $0.userID = userID
                $0.limit = tokens ?? 0
                $0.clear = tokens == nil
            }
        case .userTier(let userID, let tier):
            userTier = .with {
                $0.userID = userID
                $0.tier = tier ?? ""
            }
        case .tierShadow(let tier, let on):
            shadow = .with {
                $0.tier = tier
                $0.on = on
            }
        case .userShadow(let userID, let on):
            shadow = .with {
                $0.userID = userID
                $0.on = on
            }
        case .defaultTier(let tier): defaultTier = tier
        case .timeZone(let zone): timeZone = zone
        }
    }

    /// The change asked for, or why the request names none (or two at once).
    public var ledgerValue: Result<UsageChange, Refusal> {
        switch change {
        case .tierLimit(let c): .success(.tierLimit(tier: c.tier, tokens: c.remove ? nil : c.limit))
        case .userLimit(let c): .success(.userLimit(userID: c.userID, tokens: c.clear ? nil : c.limit))
        case .userTier(let c): .success(.userTier(userID: c.userID, tier: c.tier.isEmpty ? nil : c.tier))
        case .shadow(let c):
            switch (c.tier.isEmpty, c.userID.isEmpty) {
            case (false, true): .success(.tierShadow(tier: c.tier, on: c.on))
            case (true, false): .success(.userShadow(userID: c.userID, on: c.on))
            default:
                .failure(Refusal(
                    code: .invalidArgument, reason: "SHADOW_TARGET_INVALID", message: "a shadow change names exactly one of tier and user_id",
                    details: ["field": "shadow"]))
            }
        case .defaultTier(let tier): .success(.defaultTier(tier))
        case .timeZone(let zone): .success(.timeZone(zone))
        case nil:
            .failure(Refusal(
                code: .invalidArgument, reason: "CHANGE_MISSING",
                message: "name one change: tier_limit, user_limit, user_tier, shadow, default_tier or time_zone",
                details: ["field": "change"]))
        }
    }
}

extension Tally_V1_UsageSettings {
    public init(_ limits: UsageLimits, retention: UsageRetention) {
        self.init()
        tiers = limits.tiers.sorted { $0.key < $1.key }.map { tier, limit in
            Tally_V1_TierLimit.with {
                $0.tier = tier.value
                $0.limit = limit
                $0.shadow = limits.shadowTiers.contains(tier)
            }
        }
        defaultTier = limits.defaultTier.value
        timeZone = limits.timeZone
        retentionDays = UInt32(clamping: retention.days)
        retentionMonths = UInt32(clamping: retention.months)
    }
}

extension Tally_V1_MonthUsage {
    public init(_ month: YearMonth, _ usage: TallyLedger.MonthUsage) {
        self.init()
        self.month = month.description
        days = usage.days.sorted { $0.key < $1.key }.map { day, tokens in
            Tally_V1_DayTokens.with {
                $0.date = CivilDay(year: month.year, month: month.month, day: day).description
                $0.tokens = tokens
            }
        }
        total = usage.total
        averagePerDay = usage.averagePerDay
        if let peak = usage.peak {
            peakDate = CivilDay(year: month.year, month: month.month, day: peak.day).description
            peakTokens = peak.tokens
        }
        tier = usage.tier.value
    }
}
