import TallyWire

// tally.v1.Memberships and tally.v1.Actions: tiers per user and priced actions.
extension TallyClient {
    /// Puts `userID` on `tier` until `expiresAtUs` (0: no end); a nil tier ends the membership.
    public func setMembership(userID: String, tier: String?, expiresAtUs: Int64 = 0, timeoutMs: UInt32 = 0) async throws
        -> Tally_V1_MembershipResponse
    {
        try await unary(
            .setMembership,
            Tally_V1_SetMembershipRequest.with {
                $0.userID = userID
                $0.tier = tier ?? ""
                $0.expiresAtUs = expiresAtUs
            }, timeoutMs: timeoutMs)
    }

    public func getMembership(userID: String, timeoutMs: UInt32 = 0) async throws -> Tally_V1_MembershipResponse {
        try await unary(.getMembership, Tally_V1_GetMembershipRequest.with { $0.userID = userID }, timeoutMs: timeoutMs)
    }

    /// Sets `action`'s price for `tier`; a nil cost removes it.
    public func setPrice(action: String, tier: String, cost: Int64?, timeoutMs: UInt32 = 0) async throws -> Tally_V1_ActionPrice {
        let response: Tally_V1_SetPriceResponse = try await unary(
            .setPrice,
            Tally_V1_SetPriceRequest.with {
                $0.action = action
                $0.tier = tier
                if let cost { $0.cost = cost } else { $0.remove = true }
            }, timeoutMs: timeoutMs)
        return response.price
    }

    public func listPrices(timeoutMs: UInt32 = 0) async throws -> [Tally_V1_ActionPrice] {
        let response: Tally_V1_ListPricesResponse = try await unary(.listPrices, Tally_V1_ListPricesRequest(), timeoutMs: timeoutMs)
        return response.prices
    }

    /// Spends `action`'s price for the user's tier now.
    public func spendAction(_ request: Tally_V1_SpendActionRequest, timeoutMs: UInt32 = 0) async throws -> Tally_V1_SpendResponse {
        try await unary(.spendAction, request, timeoutMs: timeoutMs)
    }
}

// tally.v1.Audit: every mutation attempt.
extension TallyClient {
    public func listAudit(_ request: Tally_V1_ListAuditRequest, timeoutMs: UInt32 = 0) async throws -> Tally_V1_ListAuditResponse {
        try await unary(.listAudit, request, timeoutMs: timeoutMs)
    }
}

// tally.v1.Admin/Reconcile.
extension TallyClient {
    /// Every balance recomputed from history; `repair` writes what history is missing.
    public func reconcile(repair: Bool = false, timeoutMs: UInt32 = 0) async throws -> Tally_V1_ReconcileResponse {
        try await unary(.reconcile, Tally_V1_ReconcileRequest.with { $0.repair = repair }, timeoutMs: timeoutMs)
    }
}
