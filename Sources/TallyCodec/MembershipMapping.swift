import HashTreeCollections
import TallyLedger
import TallyWire

// Conversions between memberships, action prices and their wire messages (tally.v1.Memberships,
// tally.v1.Actions). The store reuses them for journal records and snapshots.

extension Tally_V1_SetMembershipRequest {
    public init(_ set: SetMembership) {
        self.init()
        userID = set.userID
        tier = set.tier ?? ""
        expiresAtUs = set.expiresAt ?? 0
    }

    public var ledgerValue: SetMembership {
        SetMembership(userID: userID, tier: tier.isEmpty ? nil : tier, expiresAt: expiresAtUs == 0 ? nil : expiresAtUs)
    }
}

extension Tally_V1_MembershipResponse {
    public init(_ status: MembershipStatus) {
        self.init()
        userID = status.userID
        tier = status.tier.value
        active = status.active
        defaultTier = status.defaultTier.value
        if let membership = status.membership {
            membershipTier = membership.tier.value
            expiresAtUs = membership.expiresAt ?? 0
            updatedAtUs = membership.updatedAt
        }
    }
}

extension Tally_V1_ActionPrice {
    public init(_ price: ActionPrice) {
        self.init()
        action = price.action.value
        costs = Dictionary(uniqueKeysWithValues: price.costs.map { ($0.key.value, $0.value) })
    }

    public var ledgerValue: ActionPrice {
        var table = TreeDictionary<ExactString, Int64>()
        for (tier, cost) in costs { table[ExactString(tier)] = cost }
        return ActionPrice(action: ExactString(action), costs: table)
    }
}

extension Tally_V1_SetPriceRequest {
    public init(_ set: SetActionPrice) {
        self.init()
        action = set.action
        tier = set.tier
        if let cost = set.cost { self.cost = cost } else { remove = true }
    }

    public var ledgerValue: SetActionPrice {
        SetActionPrice(action: action, tier: tier, cost: remove ? nil : cost)
    }
}

extension Tally_V1_SpendActionRequest {
    public init(_ spend: SpendAction) {
        self.init()
        userID = spend.userID
        action = spend.action
        reference = spend.reference
        memo = spend.memo
        idempotencyKey = spend.idempotencyKey
        metadata = spend.metadata.wire
    }

    public var ledgerValue: SpendAction {
        SpendAction(
            userID: userID, action: action, reference: reference, memo: memo, idempotencyKey: idempotencyKey,
            metadata: metadata.exact)
    }
}
