/// Memberships and priced actions: the tier a user is on decides what an action
/// costs them and how many tokens a day they may consume.
extension Ledger {
    mutating func applyMembership(_ command: Command, at now: Timestamp) -> Outcome {
        switch command {
        case .setMembership(let set): return setMembership(set, at: now)
        case .setActionPrice(let set): return setActionPrice(set)
        case .spendAction(let spend): return spendAction(spend, at: now)
        default: preconditionFailure("not a membership command")
        }
    }

    // MARK: Reads

    /// The tier that applies to `userID` at `now`: its membership's while that is active and
    /// its tier still defined, else the default tier.
    public func tier(of userID: String, at now: Timestamp) -> ExactString {
        activeTier(memberships[ExactString(userID)], at: now) ?? usage.limits.defaultTier
    }

    public func membership(of userID: String, at now: Timestamp) -> MembershipStatus {
        let membership = memberships[ExactString(userID)]
        let active = activeTier(membership, at: now)
        return MembershipStatus(
            userID: userID, tier: active ?? usage.limits.defaultTier, membership: membership, active: active != nil,
            defaultTier: usage.limits.defaultTier)
    }

    /// The price table, actions in byte order.
    public func actionPriceList() -> [ActionPrice] {
        actionPrices.values.sorted { $0.action < $1.action }
    }

    /// What `action` costs `userID` at `now`, and the tier it was priced for.
    public func price(of action: String, for userID: String, at now: Timestamp) -> Result<(cost: Int64, tier: ExactString), Refusal> {
        guard let price = actionPrices[ExactString(action)] else {
            return .failure(Refusal(
                code: .notFound, reason: "ACTION_NOT_FOUND", message: "action '\(action)' has no price; an admin sets one with SetPrice",
                details: ["action": action]))
        }
        let tier = tier(of: userID, at: now)
        if let cost = price.costs[tier] { return .success((cost, tier)) }
        let fallback = usage.limits.defaultTier
        if let cost = price.costs[fallback] { return .success((cost, fallback)) }
        return .failure(Refusal(
            code: .notFound, reason: "PRICE_NOT_FOUND",
            message: "action '\(action)' has no price for tier '\(tier)' nor for the default tier '\(fallback)'",
            details: ["action": action, "tier": tier.value]))
    }

    private func activeTier(_ membership: Membership?, at now: Timestamp) -> ExactString? {
        guard let membership, membership.isActive(at: now), usage.limits.tiers[membership.tier] != nil else { return nil }
        return membership.tier
    }

    // MARK: Mutations

    private mutating func setMembership(_ set: SetMembership, at now: Timestamp) -> Outcome {
        let user = ExactString(set.userID)
        guard let tier = set.tier else {
            memberships[user] = nil
            return .membership(membership(of: set.userID, at: now))
        }
        guard usage.limits.tiers[ExactString(tier)] != nil else { return .refused(.tierNotFound(tier)) }
        if let expiresAt = set.expiresAt, expiresAt <= now {
            return .refused(Refusal(
                code: .invalidArgument, reason: "EXPIRY_IN_PAST",
                message: "expires_at_us \(expiresAt) is not after now (\(now)); clear the membership instead",
                details: ["field": "expires_at_us", "expires_at_us": String(expiresAt)]))
        }
        memberships[user] = Membership(tier: ExactString(tier), expiresAt: set.expiresAt, updatedAt: now)
        return .membership(membership(of: set.userID, at: now))
    }

    private mutating func setActionPrice(_ set: SetActionPrice) -> Outcome {
        let action = ExactString(set.action)
        var price = actionPrices[action] ?? ActionPrice(action: action)
        if let cost = set.cost {
            guard usage.limits.tiers[ExactString(set.tier)] != nil else { return .refused(.tierNotFound(set.tier)) }
            price.costs[ExactString(set.tier)] = cost
        } else {
            price.costs[ExactString(set.tier)] = nil
        }
        actionPrices[action] = price.costs.isEmpty ? nil : price
        return .actionPrice(price)
    }

    private mutating func spendAction(_ spend: SpendAction, at now: Timestamp) -> Outcome {
        switch price(of: spend.action, for: spend.userID, at: now) {
        case .failure(let refusal): return .refused(refusal)
        case .success(let (cost, tier)):
            return debit(
                Spend(
                    userID: spend.userID, amount: cost, reference: spend.reference, memo: spend.memo,
                    idempotencyKey: spend.idempotencyKey, metadata: spend.metadata),
                action: spend.action, tier: tier.value, at: now)
        }
    }
}

extension Refusal {
    static func tierNotFound(_ tier: String) -> Refusal {
        Refusal(
            code: .failedPrecondition, reason: "TIER_NOT_FOUND",
            message: "tier '\(tier)' is not defined; tiers are the daily limits' tiers ([usage.tiers] or SetLimits)",
            details: ["tier": tier])
    }
}
