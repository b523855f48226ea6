import TallyWire

// tally.v1.Usage: daily token limits for chat gateways.
extension TallyClient {
    public func checkUsage(userID: String, timeoutMs: UInt32 = 0) async throws -> Tally_V1_UsageStatus {
        let response: Tally_V1_CheckUsageResponse = try await unary(
            .checkUsage, Tally_V1_CheckUsageRequest.with { $0.userID = userID }, timeoutMs: timeoutMs)
        return response.status
    }

    /// Counts `tokens`, or throws RESOURCE_EXHAUSTED DAILY_LIMIT_EXCEEDED (details: used,
    /// reserved, limit, remaining, resets_at_us) and counts nothing.
    public func consume(
        userID: String, tokens: Int64, idempotencyKey: String = "", timeoutMs: UInt32 = 0
    ) async throws -> Tally_V1_ConsumeResponse {
        try await unary(
            .consume,
            Tally_V1_ConsumeRequest.with {
                $0.userID = userID
                $0.tokens = tokens
                $0.idempotencyKey = idempotencyKey
            }, timeoutMs: timeoutMs)
    }

    public func reserve(
        userID: String, tokens: Int64, ttlMs: UInt32 = 0, idempotencyKey: String = "", timeoutMs: UInt32 = 0
    ) async throws -> Tally_V1_ReserveResponse {
        try await unary(
            .reserve,
            Tally_V1_ReserveRequest.with {
                $0.userID = userID
                $0.tokens = tokens
                $0.ttlMs = ttlMs
                $0.idempotencyKey = idempotencyKey
            }, timeoutMs: timeoutMs)
    }

    public func settle(
        reservationID: UInt64, tokens: Int64, idempotencyKey: String = "", timeoutMs: UInt32 = 0
    ) async throws -> Tally_V1_SettleResponse {
        try await unary(
            .settle,
            Tally_V1_SettleRequest.with {
                $0.reservationID = reservationID
                $0.tokens = tokens
                $0.idempotencyKey = idempotencyKey
            }, timeoutMs: timeoutMs)
    }

    public func release(reservationID: UInt64, idempotencyKey: String = "", timeoutMs: UInt32 = 0) async throws
        -> Tally_V1_ReleaseResponse
    {
        try await unary(
            .release,
            Tally_V1_ReleaseRequest.with {
                $0.reservationID = reservationID
                $0.idempotencyKey = idempotencyKey
            }, timeoutMs: timeoutMs)
    }

    public func getLimits(timeoutMs: UInt32 = 0) async throws -> Tally_V1_UsageSettings {
        let response: Tally_V1_GetLimitsResponse = try await unary(.getLimits, Tally_V1_GetLimitsRequest(), timeoutMs: timeoutMs)
        return response.settings
    }

    /// Changes one setting (admin); answers the settings after the change.
    public func setLimits(_ request: Tally_V1_SetLimitsRequest, timeoutMs: UInt32 = 0) async throws -> Tally_V1_UsageSettings {
        let response: Tally_V1_SetLimitsResponse = try await unary(.setLimits, request, timeoutMs: timeoutMs)
        return response.settings
    }

    public func usageHistory(userID: String, months: UInt32 = 0, timeoutMs: UInt32 = 0) async throws
        -> Tally_V1_UsageHistoryResponse
    {
        try await unary(
            .usageHistory,
            Tally_V1_UsageHistoryRequest.with {
                $0.userID = userID
                $0.months = months
            }, timeoutMs: timeoutMs)
    }

    /// `date` "YYYY-MM-DD", empty for today.
    public func topUsers(date: String = "", limit: UInt32 = 0, timeoutMs: UInt32 = 0) async throws -> Tally_V1_TopUsersResponse {
        try await unary(
            .topUsers,
            Tally_V1_TopUsersRequest.with {
                $0.date = date
                $0.limit = limit
            }, timeoutMs: timeoutMs)
    }

    /// `month` "YYYY-MM", empty for this month; `tier` empty for every tier.
    public func monthByTier(month: String = "", tier: String = "", timeoutMs: UInt32 = 0) async throws
        -> Tally_V1_MonthByTierResponse
    {
        try await unary(
            .monthByTier,
            Tally_V1_MonthByTierRequest.with {
                $0.month = month
                $0.tier = tier
            }, timeoutMs: timeoutMs)
    }
}
