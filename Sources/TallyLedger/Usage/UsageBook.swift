import HashTreeCollections

/// Daily token limits for chat gateways: check, consume, reserve then settle, with
/// the day given as an input (UsageDay, worked out by the Writer and journaled), so this stays
/// pure. A user's count starts again when a command arrives on a later day; the day it leaves
/// becomes a daily record, and every token also lands in its month's aggregate as it is counted.
///
/// Every method either changes the state and succeeds, or refuses and changes nothing.
public struct UsageBook: Equatable, Sendable {
    public private(set) var limits = UsageLimits()
    public private(set) var users = UsageUsers()
    public private(set) var reservations: TreeDictionary<UInt64, Reservation> = [:]
    public private(set) var nextReservationID: UInt64 = 1
    public let retention: UsageRetention

    public init(limits: UsageLimits = UsageLimits(), retention: UsageRetention = UsageRetention()) {
        self.limits = limits
        self.retention = retention
    }

    /// Rebuilds a book from its parts (a snapshot). The Ledger's invariant check covers it.
    public init(
        limits: UsageLimits, users: UsageUsers, reservations: TreeDictionary<UInt64, Reservation>,
        nextReservationID: UInt64, retention: UsageRetention
    ) {
        self.limits = limits
        self.users = users
        self.reservations = reservations
        self.nextReservationID = nextReservationID
        self.retention = retention
    }

    // MARK: Reads

    /// Where `userID` stands on `day` (read-only: a day not yet rolled to shows as empty).
    /// `tier` is the user's membership tier (nil: the default tier); the Ledger knows it.
    public func status(of userID: String, on day: UsageDay, tier: ExactString? = nil) -> UsageStatus {
        var user = users[ExactString(userID)] ?? UserUsage()
        Self.roll(&user, to: day.date, retention: retention)
        return status(userID, user, day, tier)
    }

    public func usage(of userID: String) -> UserUsage? { users[ExactString(userID)] }

    // MARK: Consume, reserve, settle, release

    /// Counts `tokens` if they fit under the limit (or the user is in shadow mode, which
    /// counts the would-be refusal instead of refusing).
    public mutating func consume(
        _ userID: String, tokens: Int64, on day: UsageDay, tier: ExactString? = nil
    ) -> Result<UsageStatus, Refusal> {
        if let invalid = Self.invalid(userID, tokens) { return .failure(invalid) }
        return consumeValidated(userID, tokens: tokens, on: day, tier: tier)
    }

    /// `consume` for input the Ledger's Validation already passed: the hot path checks once.
    mutating func consumeValidated(
        _ userID: String, tokens: Int64, on day: UsageDay, tier: ExactString? = nil
    ) -> Result<UsageStatus, Refusal> {
        let key = ExactString(userID)
        if let done = consumeInPlace(key, tokens, day, tier) { return done }
        var user: UserUsage
        switch admitted(key, tokens, day, tier) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let admitted): user = admitted
        }
        guard count(tokens, on: user.day ?? day.date, for: &user, tier) else {
            return .failure(Self.overflow(userID, tokens))
        }
        users.updateValue(user, forKey: key)
        return .success(status(userID, user, day, tier))
    }

    /// The common consume, changed in place: a user already counting on `day`. One lookup
    /// (`UsageUsers.update` lends the stored value itself), so neither the user nor its
    /// month's trees are copied; everything that can refuse is decided before anything changes.
    /// nil: not this case, take the general path. The same outcome as the general path, which
    /// the usage property tests check.
    private mutating func consumeInPlace(
        _ key: ExactString, _ tokens: Int64, _ day: UsageDay, _ tier: ExactString?
    ) -> Result<UsageStatus, Refusal>? {
        let limits = limits  // read outside the access to `users` below
        return users.update(key) { stored in
            guard stored.day == day.date else { return nil }
            return Self.consumeToday(&stored, key.value, tokens, day, tier, limits)
        } ?? nil
    }

    private static func consumeToday(
        _ user: inout UserUsage, _ userID: String, _ tokens: Int64, _ day: UsageDay, _ tier: ExactString?,
        _ limits: UsageLimits
    ) -> Result<UsageStatus, Refusal> {
        let standing = standing(of: user, tier: tier, limits: limits)
        let shadowed: Bool
        switch decide(userID, user, tokens, day, standing) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let wouldRefuse): shadowed = wouldRefuse
        }
        // Today's count in its month equals `used` (an invariant), so the month's day needs no check of its own.
        guard checkedAdd(user.used, tokens) != nil, checkedAdd(user.monthTotalToday(), tokens) != nil else {
            return .failure(overflow(userID, tokens))
        }
        user.countToday(tokens, tier: standing.tier, shadowed: shadowed)
        return .success(status(userID, user, day, standing))
    }

    /// Holds `tokens` of today's quota until settled, released, or `expiresAt`.
    public mutating func reserve(
        _ userID: String, tokens: Int64, on day: UsageDay, at now: Timestamp, expiresAt: Timestamp, tier: ExactString? = nil
    ) -> Result<(Reservation, UsageStatus), Refusal> {
        if let invalid = Self.invalid(userID, tokens) { return .failure(invalid) }
        return reserveValidated(userID, tokens: tokens, on: day, at: now, expiresAt: expiresAt, tier: tier)
    }

    /// `reserve` for input the Ledger's Validation already passed.
    mutating func reserveValidated(
        _ userID: String, tokens: Int64, on day: UsageDay, at now: Timestamp, expiresAt: Timestamp, tier: ExactString? = nil
    ) -> Result<(Reservation, UsageStatus), Refusal> {
        guard expiresAt > now else {
            return .failure(Refusal(
                code: .invalidArgument, reason: "TTL_NOT_POSITIVE", message: "a reservation must outlive the call that makes it",
                details: ["field": "ttl"]))
        }
        let key = ExactString(userID)
        var user: UserUsage
        switch admitted(key, tokens, day, tier) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let admitted): user = admitted
        }
        guard let reserved = checkedAdd(user.reserved, tokens) else { return .failure(Self.overflow(userID, tokens)) }
        user.reserved = reserved
        let reservation = Reservation(
            id: nextReservationID, userID: key, tokens: tokens, day: user.day ?? day.date, createdAt: now, expiresAt: expiresAt)
        nextReservationID += 1
        reservations[reservation.id] = reservation
        users.updateValue(user, forKey: key)
        return .success((reservation, status(userID, user, day, tier)))
    }

    /// Settles reservation `id` with the real count. The real count is charged in full, even
    /// past the limit or the estimate: the model already spent those tokens, and a count that
    /// left them out would lie. It lands on the day the reservation was made.
    /// `tier` is the membership tier of the reservation's user.
    public mutating func settle(
        _ id: UInt64, tokens: Int64, on day: UsageDay, tier: ExactString? = nil
    ) -> Result<(Reservation, UsageStatus), Refusal> {
        guard tokens >= 0 else {
            return .failure(Refusal(
                code: .invalidArgument, reason: "AMOUNT_NEGATIVE", message: "a settled count cannot be negative",
                details: ["field": "tokens", "tokens": String(tokens)]))
        }
        guard let reservation = reservations[id] else { return .failure(Self.unknownReservation(id)) }
        var user = users[reservation.userID] ?? UserUsage()
        Self.roll(&user, to: day.date, retention: retention)
        if reservation.day == user.day { user.reserved -= reservation.tokens }
        guard count(tokens, on: reservation.day, for: &user, tier) else {
            return .failure(Self.overflow(reservation.userID.value, tokens))
        }
        reservations[id] = nil
        users.updateValue(user, forKey: reservation.userID)
        return .success((reservation, status(reservation.userID.value, user, day, tier)))
    }

    /// Gives reservation `id`'s tokens back without counting any.
    public mutating func release(
        _ id: UInt64, on day: UsageDay, tier: ExactString? = nil
    ) -> Result<(Reservation, UsageStatus), Refusal> {
        guard let reservation = reservations[id] else { return .failure(Self.unknownReservation(id)) }
        var user = users[reservation.userID] ?? UserUsage()
        Self.roll(&user, to: day.date, retention: retention)
        if reservation.day == user.day { user.reserved -= reservation.tokens }
        reservations[id] = nil
        users.updateValue(user, forKey: reservation.userID)
        return .success((reservation, status(reservation.userID.value, user, day, tier)))
    }

    /// Releases every reservation whose time is up (a journaled tick, so a replay releases the
    /// same ones). Scans the open reservations: they are model calls in flight, few at a time.
    public mutating func expireReservations(at now: Timestamp, on day: UsageDay) -> [Reservation] {
        let expired = reservations.values.filter { $0.expiresAt <= now }.sorted { $0.id < $1.id }
        for reservation in expired { _ = release(reservation.id, on: day) }  // the answer's tier is not kept
        return expired
    }

    // MARK: Limits

    public mutating func setTierLimit(_ tier: String, tokens: Int64?) -> Result<Void, Refusal> {
        if let tokens, tokens < 0 { return .failure(Self.negativeLimit(tokens)) }
        let key = ExactString(tier)
        if tokens == nil, key == limits.defaultTier {
            return .failure(Refusal(
                code: .failedPrecondition, reason: "DEFAULT_TIER_NEEDS_LIMIT", message: "the default tier '\(tier)' must keep a limit",
                details: ["tier": tier]))
        }
        limits.tiers[key] = tokens
        return .success(())
    }

    public mutating func setUserLimit(_ userID: String, tokens: Int64?) -> Result<Void, Refusal> {
        if let tokens, tokens < 0 { return .failure(Self.negativeLimit(tokens)) }
        users[ExactString(userID), default: UserUsage()].limitOverride = tokens
        return .success(())
    }

    public mutating func setShadow(tier: String, _ on: Bool) {
        if on { limits.shadowTiers.insert(ExactString(tier)) } else { limits.shadowTiers.remove(ExactString(tier)) }
    }

    public mutating func setShadow(user userID: String, _ on: Bool) {
        users[ExactString(userID), default: UserUsage()].shadow = on
    }

    /// Makes `tier` the tier of users without one; it must have a limit.
    public mutating func setDefaultTier(_ tier: String) -> Result<Void, Refusal> {
        let key = ExactString(tier)
        guard limits.tiers[key] != nil else {
            return .failure(Refusal(
                code: .failedPrecondition, reason: "TIER_NOT_FOUND", message: "tier '\(tier)' has no limit; set one first",
                details: ["tier": tier]))
        }
        limits.defaultTier = key
        return .success(())
    }

    /// Applies an admin's change; the zone name is taken as given (the server checked it).
    public mutating func apply(_ change: UsageChange) -> Result<Void, Refusal> {
        switch change {
        case .tierLimit(let tier, let tokens): return setTierLimit(tier, tokens: tokens)
        case .userLimit(let userID, let tokens): return setUserLimit(userID, tokens: tokens)
        case .userTier: preconditionFailure("a user's tier is a membership: the Ledger applies it")
        case .tierShadow(let tier, let on): setShadow(tier: tier, on)
        case .userShadow(let userID, let on): setShadow(user: userID, on)
        case .defaultTier(let tier): return setDefaultTier(tier)
        case .timeZone(let zone): limits.timeZone = zone
        }
        return .success(())
    }

    // MARK: Rules

    /// What applies to a user: its tier (an unknown one falls back to the default), its daily
    /// limit, and whether the limit is only evaluated. Worked out once per call.
    public struct Standing: Equatable, Sendable {
        public var tier: ExactString
        public var limit: Int64
        public var shadow: Bool
    }

    /// `tier` is the user's membership tier (nil, or one without a limit: the default tier).
    public func standing(of user: UserUsage, tier: ExactString?) -> Standing {
        Self.standing(of: user, tier: tier, limits: limits)
    }

    static func standing(of user: UserUsage, tier: ExactString?, limits: UsageLimits) -> Standing {
        let tierLimit = tier.flatMap { tier in limits.tiers[tier].map { (tier, $0) } }
        let (tier, limit) = tierLimit ?? (limits.defaultTier, limits.tiers[limits.defaultTier] ?? 0)
        return Standing(
            tier: tier, limit: user.limitOverride ?? limit, shadow: user.shadow || limits.shadowTiers.contains(tier))
    }

    /// The user as of `day`, if `tokens` more are admitted (not stored yet).
    private func admitted(_ key: ExactString, _ tokens: Int64, _ day: UsageDay, _ tier: ExactString?) -> Result<UserUsage, Refusal> {
        var user = users[key] ?? UserUsage()
        Self.roll(&user, to: day.date, retention: retention)
        return admit(key.value, &user, tokens, day, tier).map { user }
    }

    /// Whether `tokens` more fit today (used and reserved both count). In shadow mode a call
    /// that does not fit is admitted and counted as a would-be refusal.
    private func admit(
        _ userID: String, _ user: inout UserUsage, _ tokens: Int64, _ day: UsageDay, _ tier: ExactString?
    ) -> Result<Void, Refusal> {
        Self.decide(userID, user, tokens, day, tier, limits).map { shadowed in
            if shadowed { user.shadowRefusals += 1 }
        }
    }

    /// `admit`'s decision without changing anything: success(true) when admitted only as a
    /// would-be refusal (shadow mode).
    private static func decide(
        _ userID: String, _ user: UserUsage, _ tokens: Int64, _ day: UsageDay, _ tier: ExactString?, _ limits: UsageLimits
    ) -> Result<Bool, Refusal> {
        decide(userID, user, tokens, day, standing(of: user, tier: tier, limits: limits))
    }

    private static func decide(
        _ userID: String, _ user: UserUsage, _ tokens: Int64, _ day: UsageDay, _ standing: Standing
    ) -> Result<Bool, Refusal> {
        let limit = standing.limit
        guard let held = checkedAdd(user.used, user.reserved), let wanted = checkedAdd(held, tokens) else {
            return .failure(overflow(userID, tokens))
        }
        guard wanted > limit else { return .success(false) }
        if standing.shadow { return .success(true) }
        let remaining = max(0, limit - held)
        let (date, resetsAt) = counting(user, on: day)
        return .failure(Refusal(
            code: .resourceExhausted, reason: "DAILY_LIMIT_EXCEEDED",
            message: "\(userID) has used \(user.used) and reserved \(user.reserved) of \(limit) tokens today; \(tokens) more do not fit (\(remaining) remain until the count resets at \(utcDescription(resetsAt)))",
            details: [
                "used": String(user.used), "reserved": String(user.reserved), "limit": String(limit),
                "remaining": String(remaining), "requested": String(tokens), "resets_at_us": String(resetsAt),
                "day": date.description,
            ]))
    }

    /// Adds `tokens` to `date`'s count (today's, or an earlier day's record) and its month.
    /// False, and `user` unchanged, on overflow.
    private func count(_ tokens: Int64, on date: CivilDay, for user: inout UserUsage, _ tier: ExactString?) -> Bool {
        guard tokens > 0 else { return true }  // a settle of 0: no record of a day without usage
        let monthTier = standing(of: user, tier: tier).tier
        if date == user.day {
            // Today's count is in its month, which is always kept.
            guard checkedAdd(user.used, tokens) != nil, checkedAdd(user.monthTotalToday(), tokens) != nil else { return false }
            user.countToday(tokens, tier: monthTier, shadowed: false)
            return true
        }
        return user.countEarlier(
            tokens, on: date, isRecord: Self.isKept(date, today: user.day, retention: retention),
            inMonth: Self.isKept(YearMonth(date), today: user.day ?? date, retention: retention), tier: monthTier)
    }

    /// Moves `user` to `date` if that is later than its day: the old day becomes a record, and
    /// records and months past retention are dropped.
    static func roll(_ user: inout UserUsage, to date: CivilDay, retention: UsageRetention) {
        user.roll(
            to: date, isKept: { isKept($0, today: date, retention: retention) },
            monthIsKept: { isKept($0, today: date, retention: retention) })
    }

    static func isKept(_ date: CivilDay, today: CivilDay?, retention: UsageRetention) -> Bool {
        guard let today else { return true }
        return today.dayNumber - date.dayNumber < retention.days
    }

    static func isKept(_ month: YearMonth, today: CivilDay, retention: UsageRetention) -> Bool {
        let now = Int64(today.year) * 12 + Int64(today.month) - 1
        return now - (Int64(month.year) * 12 + Int64(month.month) - 1) < retention.months
    }

    private func status(_ userID: String, _ user: UserUsage, _ day: UsageDay, _ tier: ExactString?) -> UsageStatus {
        Self.status(userID, user, day, tier, limits)
    }

    private static func status(
        _ userID: String, _ user: UserUsage, _ day: UsageDay, _ tier: ExactString?, _ limits: UsageLimits
    ) -> UsageStatus {
        status(userID, user, day, standing(of: user, tier: tier, limits: limits))
    }

    /// `standing` is the user's as of now (a consume works it out once for its check, count and answer).
    private static func status(_ userID: String, _ user: UserUsage, _ day: UsageDay, _ standing: Standing) -> UsageStatus {
        let limit = standing.limit
        let held = user.used.addingReportingOverflow(user.reserved)
        let (date, resetsAt) = Self.counting(user, on: day)
        return UsageStatus(
            userID: userID, date: date, used: user.used, reserved: user.reserved, limit: limit,
            remaining: held.overflow ? 0 : max(0, limit - held.partialValue), resetsAt: resetsAt, tier: standing.tier,
            shadow: standing.shadow, shadowRefusals: user.shadowRefusals)
    }

    /// The date a user's counts are on, and when they reset. After a zone change that moved
    /// the date back, a user keeps counting on its later date until the new zone reaches it:
    /// that date, and its end a whole number of days after the new zone's (docs/decisions.md).
    static func counting(_ user: UserUsage, on day: UsageDay) -> (date: CivilDay, resetsAt: Timestamp) {
        guard let counting = user.day, counting > day.date else { return (day.date, day.endsAt) }
        let ahead = (counting.dayNumber - day.date.dayNumber).multipliedReportingOverflow(by: 86_400_000_000)
        let end = day.endsAt.addingReportingOverflow(ahead.partialValue)
        return (counting, ahead.overflow || end.overflow ? .max : end.partialValue)
    }

    private static func invalid(_ userID: String, _ tokens: Int64) -> Refusal? {
        if let invalid = Validation.userID(userID) { return invalid }
        guard tokens > 0 else {
            return Refusal(
                code: .invalidArgument, reason: "AMOUNT_NOT_POSITIVE", message: "tokens must be at least 1",
                details: ["field": "tokens", "tokens": String(tokens)])
        }
        return nil
    }

    private static func overflow(_ userID: String, _ tokens: Int64) -> Refusal {
        Refusal(
            code: .outOfRange, reason: "AMOUNT_OVERFLOW", message: "\(tokens) more would take \(userID)'s usage past \(Int64.max)",
            details: ["account": "usage", "amount": String(tokens)])
    }

    private static func unknownReservation(_ id: UInt64) -> Refusal {
        Refusal(
            code: .notFound, reason: "RESERVATION_NOT_FOUND",
            message: "no open reservation \(id): it was settled, released or expired, or never made",
            details: ["reservation_id": String(id)])
    }

    private static func negativeLimit(_ tokens: Int64) -> Refusal {
        Refusal(
            code: .invalidArgument, reason: "LIMIT_NEGATIVE", message: "a daily limit cannot be negative",
            details: ["field": "limit", "limit": String(tokens)])
    }
}
