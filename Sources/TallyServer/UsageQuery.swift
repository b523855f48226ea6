import NIOCore
import SwiftProtobuf
import TallyLedger
import TallyWire

/// The usage reads that scan users (history, top users, a month by tier). They run on the
/// durable state's O(1) copy, off the Writer and the event loops, so a dashboard's query never
/// delays a gateway's consume.
enum UsageQuery: Sendable {
    case history(userID: String, months: Int)
    /// nil: today in the configured zone.
    case topUsers(date: CivilDay?, limit: Int)
    /// nil: this month in the configured zone.
    case monthByTier(month: YearMonth?, tier: String?)

    func answer(callID: UInt64, writer: Writer) -> EventLoopFuture<Tally_V1_Response> {
        writer.scanDurable(callID: callID) { ledger, now in self.run(on: ledger, now: now) }
    }

    func run(on ledger: Ledger, now: Timestamp) -> any SwiftProtobuf.Message {
        let calendar = UsageCalendar(zone: ledger.usage.limits.timeZone) ?? .utc
        let today = calendar.day(containing: now)
        let book = ledger.usage
        switch self {
        case .history(let userID, let months):
            let user = book.usage(of: userID) ?? UserUsage()
            var days = user.days.map { ($0.key, $0.value) }
            if let day = user.day, user.used > 0 { days.append((day, user.used)) }
            return Tally_V1_UsageHistoryResponse.with {
                $0.today = Tally_V1_UsageStatus(book.status(of: userID, on: today))
                $0.days = days.sorted { $0.0 > $1.0 }.map { date, tokens in
                    Tally_V1_DayTokens.with {
                        $0.date = date.description
                        $0.tokens = tokens
                    }
                }
                $0.months = book.months(of: userID, last: months == 0 ? Int.max : months).map { Tally_V1_MonthUsage($0.month, $0.usage) }
            }
        case .topUsers(let date, let limit):
            let date = date ?? today.date
            return Tally_V1_TopUsersResponse.with {
                $0.date = date.description
                $0.users = book.topUsers(on: date, limit: limit).map { usage in
                    Tally_V1_UserTokens.with {
                        $0.userID = usage.userID
                        $0.tokens = usage.tokens
                    }
                }
            }
        case .monthByTier(let month, let tier):
            let month = month ?? YearMonth(today.date)
            return Tally_V1_MonthByTierResponse.with {
                $0.month = month.description
                $0.tiers = book.monthByTier(month).filter { tier == nil || $0.tier == tier }.map { entry in
                    Tally_V1_TierMonth.with {
                        $0.tier = entry.tier
                        $0.users = entry.users
                        $0.total = entry.total
                        $0.averagePerUser = entry.averagePerUser
                    }
                }
            }
        }
    }
}
