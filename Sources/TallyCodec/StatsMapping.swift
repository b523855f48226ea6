import TallyLedger
import TallyWire

extension Tally_V1_StatsResponse {
    /// Totals past Int64 are clamped (they cannot be reached with real balances).
    public init(_ stats: LedgerStats) {
        self.init()
        users = Int64(stats.users)
        tokensInCirculation = Int64(clamping: stats.tokensHeld)
        tokensCommitted = Int64(clamping: stats.tokensCommitted)
        tokensMinted = stats.tokensMinted
        tokensBurned = stats.tokensBurned
        houseNet = stats.houseNet
        transactions = stats.transactions
        activeCommitments = Int64(stats.activeCommitments)
        openPredictions = Int64(stats.openPredictions)
        volume = stats.volume.map { entry in
            Tally_V1_TypeVolume.with {
                $0.type = Tally_V1_TransactionType(rawValue: entry.type.rawValue) ?? .unspecified
                $0.transactions = entry.transactions
                $0.tokens = Int64(clamping: entry.tokens)
            }
        }
        revenueByDay = stats.revenueByDay.map(Tally_V1_Revenue.init)
        revenueByMonth = stats.revenueByMonth.map(Tally_V1_Revenue.init)
    }
}

extension Tally_V1_Revenue {
    public init(_ revenue: LedgerStats.Revenue) {
        self.init()
        period = revenue.period
        currency = revenue.currency
        cents = Int64(clamping: revenue.cents)
        purchases = revenue.purchases
        tokens = Int64(clamping: revenue.tokens)
    }
}
