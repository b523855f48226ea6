/// Figures over the whole state for Admin/Stats: what is held, minted, burned and won by the
/// house, counts, volume per transaction type, and revenue per UTC day and month of each
/// purchase's completion, per currency. Sums are Int128 so no total can overflow.
public struct LedgerStats: Equatable, Sendable {
    public struct Volume: Equatable, Sendable {
        public var type: TransactionType
        public var transactions: Int64
        public var tokens: Int128
    }

    public struct Revenue: Equatable, Sendable {
        /// YYYY-MM-DD or YYYY-MM.
        public var period: String
        public var currency: String
        public var cents: Int128
        public var purchases: Int64
        public var tokens: Int128
    }

    public var users: Int
    /// Available plus committed, over every account.
    public var tokensHeld: Int128
    public var tokensCommitted: Int128
    public var tokensMinted: Int64
    public var tokensBurned: Int64
    public var houseNet: Int64
    /// In memory and archived.
    public var transactions: Int64
    public var activeCommitments: Int
    public var openPredictions: Int
    /// By type, archived transactions included, in type order.
    public var volume: [Volume]
    /// The last `revenueDays` UTC days up to `now`'s, oldest first.
    public var revenueByDay: [Revenue]
    /// Every month with a completed purchase, oldest first.
    public var revenueByMonth: [Revenue]
}

extension Ledger {
    /// A scan of accounts, transactions, purchases and commitments: run it on a copy.
    public func stats(revenueDays days: Int, now: Timestamp) -> LedgerStats {
        var held: Int128 = 0, committed: Int128 = 0
        for account in accounts.values {
            held += Int128(account.available) + Int128(account.committed)
            committed += Int128(account.committed)
        }

        var volume: [TransactionType: (count: Int64, tokens: Int128)] = [:]
        for (type, archived) in archived.volume {  // archived transactions stay counted
            if let type = TransactionType(rawValue: type) { volume[type] = (archived.transactions, Int128(archived.tokens)) }
        }
        for tx in transactions.values {
            let entry = volume[tx.type] ?? (0, 0)
            volume[tx.type] = (entry.count + 1, entry.tokens + Int128(tx.amount))
        }

        struct Key: Hashable { var period: String, currency: String }
        typealias Sum = (cents: Int128, purchases: Int64, tokens: Int128)
        var byDay: [Key: Sum] = [:]
        var byMonth = byDay
        let firstDay = UsageDay.utc(containing: now).date.dayNumber - Int64(days) + 1
        for purchase in purchases.values where purchase.status == .completed {
            let date = UsageDay.utc(containing: purchase.settledAt).date
            let tokens = Int128(purchase.tokens) + Int128(purchase.bonusTokens)
            func add(_ table: inout [Key: Sum], _ period: String) {
                let key = Key(period: period, currency: purchase.currency)
                let entry = table[key] ?? (0, 0, 0)
                table[key] = (entry.cents + Int128(purchase.priceCents), entry.purchases + 1, entry.tokens + tokens)
            }
            add(&byMonth, YearMonth(date).description)
            if date.dayNumber >= firstDay { add(&byDay, date.description) }
        }
        func rows(_ table: [Key: Sum]) -> [LedgerStats.Revenue] {
            table.sorted { ($0.key.period, $0.key.currency) < ($1.key.period, $1.key.currency) }.map { key, sum in
                LedgerStats.Revenue(period: key.period, currency: key.currency, cents: sum.cents, purchases: sum.purchases, tokens: sum.tokens)
            }
        }
        return LedgerStats(
            users: accounts.count, tokensHeld: held, tokensCommitted: committed, tokensMinted: -mint, tokensBurned: burn,
            houseNet: house, transactions: Int64(transactions.count) + Int64(clamping: archived.count),
            activeCommitments: commitments.values.filter { $0.status == .active }.count,
            openPredictions: predictions.values.filter { $0.status == .open }.count,
            volume: volume.sorted { $0.key.rawValue < $1.key.rawValue }.map { .init(type: $0.key, transactions: $0.value.count, tokens: $0.value.tokens) },
            revenueByDay: rows(byDay), revenueByMonth: rows(byMonth))
    }
}
