import TallyLedger

/// MixedModel's re-statement of memberships and priced actions (docs/protocol.md §4.4,
/// docs/decisions.md "Memberships decide the tier at the moment of each call") and of the audit
/// log (§4.5, "The audit log is Ledger state"). Like the rest of the model it shares no code
/// with the Ledger: plain dictionaries keyed by UTF-8 bytes.
extension MixedModel {
    /// A user's membership as set: a tier until an optional (exclusive) expiry.
    struct Member: Equatable {
        var tier: Bytes
        var expiresAt: Int64?
        var updatedAt: Int64
    }

    /// One audit entry: who attempted what, for which user, and how it ended.
    struct AuditRecord {
        var id: UInt64
        var at: Int64
        var origin: AuditOrigin
        var user: Bytes
        /// gRPC's number: 0 when accepted (or answered from memory).
        var code: Int32
        var reason: String
        var replayed: Bool
        /// The transactions the attempt recorded ("the transaction_ids it recorded").
        var transactions: [UInt64]
    }

    // MARK: Tiers

    /// The tier that applies to `user` at `now`: the membership's while it has not expired and
    /// its tier is still defined, else the default tier.
    func tier(of user: Bytes, at now: Int64) -> Bytes {
        if let member = memberships[user], member.expiresAt.map({ now < $0 }) ?? true, tiers[member.tier] != nil {
            return member.tier
        }
        return defaultTier
    }

    /// Whether `user`'s membership gives the tier that applies now.
    func membershipActive(_ user: Bytes, at now: Int64) -> Bool {
        guard let member = memberships[user] else { return false }
        return member.expiresAt.map { now < $0 } ?? true && tiers[member.tier] != nil
    }

    /// SetMembership (and SetLimits.user_tier, with no expiry): nil tier ends the membership. The
    /// refusal, or nil when done.
    mutating func setMembership(_ user: Bytes, _ tier: Bytes?, expiresAt: Int64?, at now: Int64) -> Answer? {
        guard let tier else {
            memberships[user] = nil
            return nil
        }
        // §4.4 names both refusals without an order; the tier is checked first (see the report).
        guard tiers[tier] != nil else { return .refused(.failedPrecondition, "TIER_NOT_FOUND") }
        if let expiresAt, expiresAt <= now { return .refused(.invalidArgument, "EXPIRY_IN_PAST") }
        memberships[user] = Member(tier: tier, expiresAt: expiresAt, updatedAt: now)
        return nil
    }

    // MARK: Prices

    /// SetPrice: `cost` tokens on a defined tier, or nil to take the tier's price away (the
    /// action goes with its last price). The refusal, or nil when done.
    mutating func setActionPrice(_ action: Bytes, _ tier: Bytes, cost: Int64?) -> Answer? {
        guard let cost else {
            prices[action]?[tier] = nil
            if prices[action]?.isEmpty == true { prices[action] = nil }
            return nil
        }
        guard tiers[tier] != nil else { return .refused(.failedPrecondition, "TIER_NOT_FOUND") }
        prices[action, default: [:]][tier] = cost
        return nil
    }

    /// The price of `action` for `user` at `now` and the tier it is the price of: the user's
    /// tier's, else the default tier's.
    func price(of action: Bytes, for user: Bytes, at now: Int64) -> Result<(cost: Int64, tier: Bytes), Answer> {
        guard let costs = prices[action] else { return .failure(.refused(.notFound, "ACTION_NOT_FOUND")) }
        let tier = tier(of: user, at: now)
        if let cost = costs[tier] { return .success((cost, tier)) }
        if let cost = costs[defaultTier] { return .success((cost, defaultTier)) }
        return .failure(.refused(.notFound, "PRICE_NOT_FOUND"))
    }

    /// Actions/Spend: a SPEND of the price, naming the action and the tier charged.
    mutating func spendAction(_ spend: SpendAction, at now: Int64) -> Expected {
        let (user, action) = (Self.bytes(spend.userID), Self.bytes(spend.action))
        switch price(of: action, for: user, at: now) {
        case .failure(let refusal): return Expected(answer: refusal)
        case .success(let (cost, tier)): return debit(user, cost, action: action, tier: tier)
        }
    }

    // MARK: The audit log

    /// The user a request names ("" for none).
    static func userOf(_ command: Command) -> Bytes {
        switch command {
        case .credit(let c): bytes(c.userID)
        case .spend(let s): bytes(s.userID)
        case .consume(let c): bytes(c.userID)
        case .reserve(let r): bytes(r.userID)
        case .startPurchase(let s): bytes(s.userID)
        case .commit(let c): bytes(c.userID)
        case .spendAction(let s): bytes(s.userID)
        case .setMembership(let s): bytes(s.userID)
        case .refusedAttempt(let r): bytes(r.userID)
        case .changeUsage(.userLimit(let user, _)), .changeUsage(.userTier(let user, _)), .changeUsage(.userShadow(let user, _)):
            bytes(user)
        default: []
        }
    }

    /// Audit/List: newest first, below `beforeID` (0: from the newest), by user, status
    /// (accepted: true, refused: false, any: nil), reason ("" any) and since ≤ at < until (0: no
    /// bound), at most `limit`.
    func auditEntries(
        user: Bytes? = nil, accepted: Bool? = nil, reason: String = "", since: Int64 = 0, until: Int64 = 0, beforeID: UInt64 = 0,
        limit: Int
    ) -> [AuditRecord] {
        var found: [AuditRecord] = []
        for entry in auditLog.reversed() where found.count < limit {
            if beforeID != 0, entry.id >= beforeID { continue }
            if let user, entry.user != user { continue }
            if let accepted, (entry.code == 0) != accepted { continue }
            if !reason.isEmpty, Self.bytes(entry.reason) != Self.bytes(reason) { continue }
            if since != 0, entry.at < since { continue }
            if until != 0, entry.at >= until { continue }
            found.append(entry)
        }
        return found
    }
}
