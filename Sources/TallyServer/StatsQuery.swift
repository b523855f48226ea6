import NIOCore
import TallyLedger
import TallyWire

/// Admin/Stats: figures over the whole durable state, computed on its O(1) copy off the
/// Writer (a scan of accounts, transactions, purchases and commitments). Revenue periods are
/// UTC days and months of each purchase's completion, per currency.
struct StatsQuery: Sendable {
    var days: Int

    func run(on ledger: Ledger, now: Timestamp) -> Tally_V1_StatsResponse {
        var response = Tally_V1_StatsResponse()
        var held: Int128 = 0, committed: Int128 = 0
        for account in ledger.accounts.values {
            held += Int128(account.available) + Int128(account.committed)
            committed += Int128(account.committed)
        }
        response.users = Int64(ledger.accounts.count)
        response.tokensInCirculation = Int64(clamping: held)
        response.tokensCommitted = Int64(clamping: committed)
        response.tokensMinted = -ledger.mint
        response.tokensBurned = ledger.burn
        response.houseNet = ledger.house
        response.transactions = Int64(ledger.transactions.count) + Int64(clamping: ledger.archived.count)
        response.activeCommitments = Int64(ledger.commitments.values.filter { $0.status == .active }.count)
        response.openPredictions = Int64(ledger.predictions.values.filter { $0.status == .open }.count)

        var volume: [TransactionType: (count: Int64, tokens: Int128)] = [:]
        for (type, archived) in ledger.archived.volume {  // archived transactions stay counted
            if let type = TransactionType(rawValue: type) { volume[type] = (archived.transactions, Int128(archived.tokens)) }
        }
        for tx in ledger.transactions.values {
            let entry = volume[tx.type] ?? (0, 0)
            volume[tx.type] = (entry.count + 1, entry.tokens + Int128(tx.amount))
        }
        response.volume = volume.sorted { $0.key.rawValue < $1.key.rawValue }.map { type, entry in
            Tally_V1_TypeVolume.with {
                $0.type = Tally_V1_TransactionType(rawValue: type.rawValue) ?? .unspecified
                $0.transactions = entry.count
                $0.tokens = Int64(clamping: entry.tokens)
            }
        }

        struct Key: Hashable { var period: String, currency: String }
        var byDay: [Key: (cents: Int128, purchases: Int64, tokens: Int128)] = [:]
        var byMonth = byDay
        let firstDay = UsageDay.utc(containing: now).date.dayNumber - Int64(days) + 1
        for purchase in ledger.purchases.values where purchase.status == .completed {
            let date = UsageDay.utc(containing: purchase.settledAt).date
            let tokens = Int128(purchase.tokens) + Int128(purchase.bonusTokens)
            func add(_ table: inout [Key: (cents: Int128, purchases: Int64, tokens: Int128)], _ period: String) {
                let key = Key(period: period, currency: purchase.currency)
                let entry = table[key] ?? (0, 0, 0)
                table[key] = (entry.cents + Int128(purchase.priceCents), entry.purchases + 1, entry.tokens + tokens)
            }
            add(&byMonth, YearMonth(date).description)
            if date.dayNumber >= firstDay { add(&byDay, date.description) }
        }
        func rows(_ table: [Key: (cents: Int128, purchases: Int64, tokens: Int128)]) -> [Tally_V1_Revenue] {
            table.sorted { ($0.key.period, $0.key.currency) < ($1.key.period, $1.key.currency) }.map { key, entry in
                Tally_V1_Revenue.with {
                    $0.period = key.period
                    $0.currency = key.currency
                    $0.cents = Int64(clamping: entry.cents)
                    $0.purchases = entry.purchases
                    $0.tokens = Int64(clamping: entry.tokens)
                }
            }
        }
        response.revenueByDay = rows(byDay)
        response.revenueByMonth = rows(byMonth)
        return response
    }

    func answer(callID: UInt64, writer: Writer) -> EventLoopFuture<Tally_V1_Response> {
        writer.scanDurable(callID: callID) { ledger, now in self.run(on: ledger, now: now) }
    }
}
