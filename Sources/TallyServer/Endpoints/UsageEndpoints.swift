import SwiftProtobuf
import TallyLedger
import TallyCodec
import TallyWire

/// tally.v1.Usage: daily token limits for chat gateways.
enum UsageEndpoints {
    static let all: [Endpoint] = [
        // A stream: standings after each durable usage change (docs/protocol.md §5.1).
        Endpoint(.watchUsage, .read, request: Tally_V1_WatchUsageRequest.self) { body, role in
            switch LedgerEndpoints.watchedUsers(body.userIds, all: body.allUsers, role: role) {
            case .failure(let refusal): .invalid(refusal)
            case .success(let users): .stream(.usage(users: users))
            }
        },
        Endpoint(.checkUsage, .read, request: Tally_V1_CheckUsageRequest.self) { body, _ in
            if let invalid = Validation.userID(body.userID) { return .invalid(invalid) }
            return .writer(.usageStatus(userID: body.userID))
        } answer: { id, result in
            guard case .usageStatus(let status) = result else { return nil }
            return .usageStatus(callID: id, status, replayed: nil)
        },
        Endpoint(.consume, .usage, mutates: true, rateClass: .usage, request: Tally_V1_ConsumeRequest.self) { body, _ in
            .writer(.apply(.consume(body.ledgerValue)))
        } answer: { id, result in
            guard let (receipt, replayed) = Responses.usage(result) else { return nil }
            return .usageStatus(callID: id, receipt.status, replayed: replayed)
        },
        Endpoint(.reserve, .usage, mutates: true, rateClass: .usage, request: Tally_V1_ReserveRequest.self) { body, _ in
            .writer(.apply(.reserve(body.ledgerValue)))
        } answer: { id, result in
            guard let (receipt, replayed) = Responses.usage(result) else { return nil }
            return .ok(callID: id, payload: Tally_V1_ReserveResponse(receipt, replayed: replayed))
        },
        Endpoint(.settle, .usage, mutates: true, request: Tally_V1_SettleRequest.self) { body, _ in
            .writer(.apply(.settle(body.ledgerValue)))
        } answer: { id, result in
            guard let (receipt, replayed) = Responses.usage(result) else { return nil }
            return .ok(callID: id, payload: Tally_V1_SettleResponse(receipt, replayed: replayed))
        },
        Endpoint(.release, .usage, mutates: true, request: Tally_V1_ReleaseRequest.self) { body, _ in
            .writer(.apply(.release(body.ledgerValue)))
        } answer: { id, result in
            guard let (receipt, replayed) = Responses.usage(result) else { return nil }
            return .ok(callID: id, payload: Tally_V1_ReleaseResponse(receipt, replayed: replayed))
        },
        Endpoint(.getLimits, .read, request: Tally_V1_GetLimitsRequest.self) { _, _ in
            .writer(.usageLimits)
        } answer: { id, result in
            guard case .usageLimits(let limits, let retention) = result else { return nil }
            return .ok(callID: id, payload: Tally_V1_GetLimitsResponse.with { $0.settings = Tally_V1_UsageSettings(limits, retention: retention) })
        },
        Endpoint(.setLimits, .admin, mutates: true, request: Tally_V1_SetLimitsRequest.self) { body, _ in
            switch body.ledgerValue {
            case .failure(let refusal):
                return .refused(refusal)
            case .success(let change):
                // The tz database is outside the Ledger, so the zone is checked here.
                if case .timeZone(let zone) = change, Validation.check(.changeUsage(change)) == nil, UsageCalendar(zone: zone) == nil {
                    return .refused(Refusal(
                        code: .invalidArgument, reason: "TIME_ZONE_UNKNOWN",
                        message: "'\(zone)' is not a time zone of this machine's tz database", details: ["time_zone": zone]))
                }
                return .writer(.apply(.changeUsage(change)))
            }
        } answer: { id, result in
            // The Writer answers a limits change with the limits now.
            guard case .usageLimits(let limits, let retention) = result else { return nil }
            return .ok(callID: id, payload: Tally_V1_SetLimitsResponse.with { $0.settings = Tally_V1_UsageSettings(limits, retention: retention) })
        },
        Endpoint(.usageHistory, .read, request: Tally_V1_UsageHistoryRequest.self) { body, _ in
            if let invalid = Validation.userID(body.userID) { return .invalid(invalid) }
            let months = body.months == 0 ? Int.max : Int(body.months)
            return .scan { ledger, now in
                let book = ledger.usage
                return Tally_V1_UsageHistoryResponse.with {
                    $0.today = Tally_V1_UsageStatus(book.status(of: body.userID, on: today(ledger, now)))
                    $0.days = book.days(of: body.userID).map { day in
                        Tally_V1_DayTokens.with {
                            $0.date = day.date.description
                            $0.tokens = day.tokens
                        }
                    }
                    $0.months = book.months(of: body.userID, last: months).map { Tally_V1_MonthUsage($0.month, $0.usage) }
                }
            }
        },
        Endpoint(.topUsers, .admin, request: Tally_V1_TopUsersRequest.self) { body, _ in
            var date: CivilDay?
            if !body.date.isEmpty {
                guard let parsed = CivilDay(parsing: body.date) else {
                    return .invalid(reason: "DATE_INVALID", "date must be YYYY-MM-DD, got '\(body.date.prefix(40))'", details: ["field": "date"])
                }
                date = parsed
            }
            switch PageLimit.decode(body.limit, default: 10) {
            case .failure(let refusal): return .invalid(refusal)
            case .success(let limit):
                return .scan { [date] ledger, now in
                    let date = date ?? today(ledger, now).date
                    return Tally_V1_TopUsersResponse.with {
                        $0.date = date.description
                        $0.users = ledger.usage.topUsers(on: date, limit: limit).map { usage in
                            Tally_V1_UserTokens.with {
                                $0.userID = usage.userID
                                $0.tokens = usage.tokens
                            }
                        }
                    }
                }
            }
        },
        Endpoint(.monthByTier, .admin, request: Tally_V1_MonthByTierRequest.self) { body, _ in
            var month: YearMonth?
            if !body.month.isEmpty {
                guard let parsed = YearMonth(parsing: body.month) else {
                    return .invalid(reason: "MONTH_INVALID", "month must be YYYY-MM, got '\(body.month.prefix(40))'", details: ["field": "month"])
                }
                month = parsed
            }
            let tier = body.tier.isEmpty ? nil : body.tier
            return .scan { [month] ledger, now in
                let month = month ?? YearMonth(today(ledger, now).date)
                return Tally_V1_MonthByTierResponse.with {
                    $0.month = month.description
                    $0.tiers = ledger.usage.monthByTier(month).filter { tier == nil || $0.tier == tier }.map { entry in
                        Tally_V1_TierMonth.with {
                            $0.tier = entry.tier
                            $0.users = entry.users
                            $0.total = entry.total
                            $0.averagePerUser = entry.averagePerUser
                        }
                    }
                }
            }
        },
    ]

    /// Today in the ledger's usage time zone (UTC if this machine's tz database lacks it).
    static func today(_ ledger: Ledger, _ now: Timestamp) -> UsageDay {
        (UsageCalendar(zone: ledger.usage.limits.timeZone) ?? .utc).day(containing: now)
    }
}

/// Reserve, Settle and Release answer alike: the reservation, the user's standing, the replay.
protocol ReservationAnswer: SwiftProtobuf.Message {
    var reservation: Tally_V1_Reservation { get set }
    var status: Tally_V1_UsageStatus { get set }
    var replayed: Bool { get set }
}

extension ReservationAnswer {
    init(_ receipt: UsageReceipt, replayed: Bool) {
        self.init()
        if let reservation = receipt.reservation { self.reservation = Tally_V1_Reservation(reservation) }
        status = Tally_V1_UsageStatus(receipt.status)
        self.replayed = replayed
    }
}

extension Tally_V1_ReserveResponse: ReservationAnswer {}
extension Tally_V1_SettleResponse: ReservationAnswer {}
extension Tally_V1_ReleaseResponse: ReservationAnswer {}

