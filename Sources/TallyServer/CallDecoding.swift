import NIOCore
import SwiftProtobuf
import TallyLedger
import TallyWire

/// Turns one Request envelope into a call for the Writer, or into an immediate error answer.
/// Runs on the connection's event loop, so the Writer never decodes.
enum CallDecoding {
    enum Decoded {
        case call(WriterCall)
        case admin(callID: UInt64, AdminCall)
        /// Refused before reaching the Writer.
        case answer(Tally_V1_Response)
        /// Refused, and to be audited: a method the caller's role forbids, or a mutation whose
        /// payload is bad. The Writer records it and answers the refusal.
        case refused(callID: UInt64, Method, Refusal)
    }

    /// A call's deadline: `timeoutMs` from now (the frame was just read); none for 0.
    static func deadline(timeoutMs: UInt32) -> NIODeadline? {
        timeoutMs == 0 ? nil : NIODeadline.now() + .milliseconds(Int64(timeoutMs))
    }

    /// `role` is the caller's. A deadline counts from now (the frame was just read); the clock
    /// is read only for calls that carry one.
    static func decode(_ request: Tally_V1_Request, role: Role) -> Decoded {
        let id = request.callID  // non-zero: the connection checked it
        guard WireProtocol.supportedVersions.contains(request.protocolVersion) else {
            let supported = WireProtocol.supportedVersions.map(String.init).joined(separator: ",")
            return .answer(Responses.error(
                callID: id, .failedPrecondition, reason: "PROTOCOL_VERSION_UNSUPPORTED",
                "protocol version \(request.protocolVersion) is not supported; this tallyd speaks \(supported)",
                details: ["requested": String(request.protocolVersion), "supported": supported]))
        }
        guard let method = Method(rawValue: request.method) else {
            // Echo at most 200 bytes of what was sent, so the answer stays small. Cut before a
            // character that straddles byte 200: decoding a cut one would add a 3-byte U+FFFD.
            let utf8 = request.method.utf8
            var end = utf8.index(utf8.startIndex, offsetBy: 200, limitedBy: utf8.endIndex) ?? utf8.endIndex
            while end != utf8.endIndex && UTF8.isContinuation(utf8[end]) { end = utf8.index(before: end) }
            let echo = String(request.method.unicodeScalars[..<end])
            return .answer(Responses.error(
                callID: id, .unimplemented, reason: "UNKNOWN_METHOD", "unknown method '\(echo)'",
                details: ["method": echo]))
        }
        // Before the payload is read: a caller learns nothing about a method it may not call.
        guard role.permits(method.access) else {
            return .refused(callID: id, method, Refusal(
                code: .permissionDenied, reason: "ROLE_FORBIDS_METHOD", message: "the \(role.rawValue) role may not call \(method.rawValue)",
                details: ["role": role.rawValue, "method": method.rawValue]))
        }
        let deadline = deadline(timeoutMs: request.timeoutMs)
        do {
            let operation: WriterCall.Operation
            switch method {
            case .getBalance:
                let body = try Tally_V1_GetBalanceRequest(serializedBytes: request.payload)
                if let invalid = Validation.userID(body.userID) {
                    return .answer(Responses.refused(callID: id, invalid))
                }
                operation = .balance(userID: body.userID)
            case .credit:
                operation = .apply(.credit(try Tally_V1_CreditRequest(serializedBytes: request.payload).ledgerValue))
            case .spend:
                operation = .apply(.spend(try Tally_V1_SpendRequest(serializedBytes: request.payload).ledgerValue))
            case .snapshot:
                _ = try Tally_V1_SnapshotRequest(serializedBytes: request.payload)
                return .admin(callID: id, .snapshot)
            case .backup:
                let path = try Tally_V1_BackupRequest(serializedBytes: request.payload).path
                if let problem = BackupPath.problem(path) {
                    return .answer(Responses.error(
                        callID: id, .invalidArgument, reason: "BACKUP_PATH_INVALID", problem, details: ["path": path]))
                }
                return .admin(callID: id, .backup(path: path))
            case .health:
                let body = try Tally_V1_HealthRequest(serializedBytes: request.payload)
                return .admin(callID: id, .health(checkInvariants: body.checkInvariants))
            case .checkUsage:
                let body = try Tally_V1_CheckUsageRequest(serializedBytes: request.payload)
                if let invalid = Validation.userID(body.userID) { return .answer(Responses.refused(callID: id, invalid)) }
                operation = .usageStatus(userID: body.userID)
            case .consume:
                operation = .apply(.consume(try Tally_V1_ConsumeRequest(serializedBytes: request.payload).ledgerValue))
            case .reserve:
                operation = .apply(.reserve(try Tally_V1_ReserveRequest(serializedBytes: request.payload).ledgerValue))
            case .settle:
                operation = .apply(.settle(try Tally_V1_SettleRequest(serializedBytes: request.payload).ledgerValue))
            case .release:
                operation = .apply(.release(try Tally_V1_ReleaseRequest(serializedBytes: request.payload).ledgerValue))
            case .getLimits:
                _ = try Tally_V1_GetLimitsRequest(serializedBytes: request.payload)
                operation = .usageLimits
            case .setLimits:
                switch try Tally_V1_SetLimitsRequest(serializedBytes: request.payload).ledgerValue {
                case .failure(let refusal):
                    return .refused(callID: id, method, refusal)
                case .success(let change):
                    // The tz database is outside the Ledger, so the zone is checked here.
                    if case .timeZone(let zone) = change, Validation.check(.changeUsage(change)) == nil,
                        UsageCalendar(zone: zone) == nil
                    {
                        return .refused(callID: id, method, Refusal(
                            code: .invalidArgument, reason: "TIME_ZONE_UNKNOWN",
                            message: "'\(zone)' is not a time zone of this machine's tz database", details: ["time_zone": zone]))
                    }
                    operation = .apply(.changeUsage(change))
                }
            case .usageHistory:
                let body = try Tally_V1_UsageHistoryRequest(serializedBytes: request.payload)
                if let invalid = Validation.userID(body.userID) { return .answer(Responses.refused(callID: id, invalid)) }
                return .admin(callID: id, .usage(.history(userID: body.userID, months: Int(body.months))))
            case .topUsers:
                let body = try Tally_V1_TopUsersRequest(serializedBytes: request.payload)
                var date: CivilDay?
                if !body.date.isEmpty {
                    guard let parsed = CivilDay(parsing: body.date) else {
                        return .answer(Responses.error(
                            callID: id, .invalidArgument, reason: "DATE_INVALID", "date must be YYYY-MM-DD, got '\(body.date.prefix(40))'",
                            details: ["field": "date"]))
                    }
                    date = parsed
                }
                switch PageLimit.decode(body.limit, default: 10) {
                case .failure(let refusal): return .answer(Responses.refused(callID: id, refusal))
                case .success(let limit): return .admin(callID: id, .usage(.topUsers(date: date, limit: limit)))
                }
            case .monthByTier:
                let body = try Tally_V1_MonthByTierRequest(serializedBytes: request.payload)
                var month: YearMonth?
                if !body.month.isEmpty {
                    guard let parsed = YearMonth(parsing: body.month) else {
                        return .answer(Responses.error(
                            callID: id, .invalidArgument, reason: "MONTH_INVALID", "month must be YYYY-MM, got '\(body.month.prefix(40))'",
                            details: ["field": "month"]))
                    }
                    month = parsed
                }
                return .admin(callID: id, .usage(.monthByTier(month: month, tier: body.tier.isEmpty ? nil : body.tier)))
            case .savePackage:
                operation = .apply(.savePackage(try Tally_V1_SavePackageRequest(serializedBytes: request.payload).ledgerValue))
            case .deactivatePackage:
                operation = .apply(.deactivatePackage(id: try Tally_V1_DeactivatePackageRequest(serializedBytes: request.payload).packageID))
            case .listPackages:
                let body = try Tally_V1_ListPackagesRequest(serializedBytes: request.payload)
                return .admin(callID: id, .purchases(.packages(includeInactive: body.includeInactive)))
            case .startPurchase:
                operation = .apply(.startPurchase(try Tally_V1_StartPurchaseRequest(serializedBytes: request.payload).ledgerValue))
            case .completePurchase:
                let body = try Tally_V1_CompletePurchaseRequest(serializedBytes: request.payload)
                operation = .apply(.settlePurchase(SettlePurchase(paymentID: body.paymentID, result: .completed)))
            case .failPurchase:
                let body = try Tally_V1_FailPurchaseRequest(serializedBytes: request.payload)
                operation = .apply(.settlePurchase(SettlePurchase(paymentID: body.paymentID, result: .failed(reason: body.reason))))
            case .getPurchase:
                let body = try Tally_V1_GetPurchaseRequest(serializedBytes: request.payload)
                if let invalid = Validation.paymentID(body.paymentID) { return .answer(Responses.refused(callID: id, invalid)) }
                operation = .purchase(paymentID: body.paymentID)
            case .listPurchases:
                let body = try Tally_V1_ListPurchasesRequest(serializedBytes: request.payload)
                if let invalid = Validation.userID(body.userID) { return .answer(Responses.refused(callID: id, invalid)) }
                switch PageLimit.decode(body.limit) {
                case .failure(let refusal): return .answer(Responses.refused(callID: id, refusal))
                case .success(let limit): return .admin(callID: id, .purchases(.purchases(userID: body.userID, limit: limit)))
                }
            case .stats:
                let body = try Tally_V1_StatsRequest(serializedBytes: request.payload)
                guard body.days <= 366 else {
                    return .answer(Responses.error(
                        callID: id, .invalidArgument, reason: "DAYS_OUT_OF_RANGE", "days must be at most 366 (0 for 30), got \(body.days)",
                        details: ["field": "days"]))
                }
                return .admin(callID: id, .stats(StatsQuery(days: body.days == 0 ? 30 : Int(body.days))))
            case .getTransaction:
                operation = .transaction(id: try Tally_V1_GetTransactionRequest(serializedBytes: request.payload).transactionID)
            case .listTransactions:
                let body = try Tally_V1_ListTransactionsRequest(serializedBytes: request.payload)
                switch HistoryQuery.decode(body, role: role) {
                case .failure(let refusal): return .answer(Responses.refused(callID: id, refusal))
                case .success(let query): return .admin(callID: id, .history(query))
                }
            case .commit:
                operation = .apply(.commit(try Tally_V1_CommitRequest(serializedBytes: request.payload).ledgerValue))
            case .cancelCommitment:
                operation = .apply(.cancelCommitment(id: try Tally_V1_CancelCommitmentRequest(serializedBytes: request.payload).commitmentID))
            case .resolvePrediction:
                let body = try Tally_V1_ResolvePredictionRequest(serializedBytes: request.payload)
                operation = .apply(.settlePrediction(SettlePrediction(predictionID: body.predictionID, result: .resolve(winning: body.winning.ledgerValue))))
            case .voidPrediction:
                let body = try Tally_V1_VoidPredictionRequest(serializedBytes: request.payload)
                operation = .apply(.settlePrediction(SettlePrediction(predictionID: body.predictionID, result: .void)))
            case .closePrediction:
                let body = try Tally_V1_ClosePredictionRequest(serializedBytes: request.payload)
                operation = .apply(.closePrediction(id: body.predictionID, at: body.closesAtUs == 0 ? nil : body.closesAtUs))
            case .setMembership:
                operation = .apply(.setMembership(try Tally_V1_SetMembershipRequest(serializedBytes: request.payload).ledgerValue))
            case .getMembership:
                let body = try Tally_V1_GetMembershipRequest(serializedBytes: request.payload)
                if let invalid = Validation.userID(body.userID) { return .answer(Responses.refused(callID: id, invalid)) }
                operation = .membership(userID: body.userID)
            case .setPrice:
                operation = .apply(.setActionPrice(try Tally_V1_SetPriceRequest(serializedBytes: request.payload).ledgerValue))
            case .listPrices:
                _ = try Tally_V1_ListPricesRequest(serializedBytes: request.payload)
                operation = .actionPrices
            case .spendAction:
                operation = .apply(.spendAction(try Tally_V1_SpendActionRequest(serializedBytes: request.payload).ledgerValue))
            case .reconcile:
                // A report reads a copy off the Writer; a repair is a journaled command.
                guard try Tally_V1_ReconcileRequest(serializedBytes: request.payload).repair else {
                    return .admin(callID: id, .reconcile)
                }
                operation = .apply(.reconcile(repair: true))
            case .listAudit:
                switch AuditQuery.decode(try Tally_V1_ListAuditRequest(serializedBytes: request.payload)) {
                case .failure(let refusal): return .answer(Responses.refused(callID: id, refusal))
                case .success(let query): return .admin(callID: id, .audit(query))
                }
            case .listCommitments:
                let body = try Tally_V1_ListCommitmentsRequest(serializedBytes: request.payload)
                switch CommitmentQuery.decode(body) {
                case .failure(let refusal): return .answer(Responses.refused(callID: id, refusal))
                case .success(let query): return .admin(callID: id, .commitments(query))
                }
            }
            return .call(WriterCall(callID: id, method: method, deadline: deadline, operation: operation))
        } catch {
            let message = "payload is not a valid \(method.requestTypeName): \(error)"
            guard method.isMutation else {
                return .answer(Responses.error(callID: id, .invalidArgument, reason: "MALFORMED_PAYLOAD", message))
            }
            return .refused(callID: id, method, Refusal(code: .invalidArgument, reason: "MALFORMED_PAYLOAD", message: message))
        }
    }
}

extension Method {
    var requestTypeName: String {
        switch self {
        case .getBalance: "tally.v1.GetBalanceRequest"
        case .credit: "tally.v1.CreditRequest"
        case .spend: "tally.v1.SpendRequest"
        case .snapshot: "tally.v1.SnapshotRequest"
        case .backup: "tally.v1.BackupRequest"
        case .health: "tally.v1.HealthRequest"
        case .checkUsage: "tally.v1.CheckUsageRequest"
        case .consume: "tally.v1.ConsumeRequest"
        case .reserve: "tally.v1.ReserveRequest"
        case .settle: "tally.v1.SettleRequest"
        case .release: "tally.v1.ReleaseRequest"
        case .getLimits: "tally.v1.GetLimitsRequest"
        case .setLimits: "tally.v1.SetLimitsRequest"
        case .usageHistory: "tally.v1.UsageHistoryRequest"
        case .topUsers: "tally.v1.TopUsersRequest"
        case .monthByTier: "tally.v1.MonthByTierRequest"
        case .savePackage: "tally.v1.SavePackageRequest"
        case .deactivatePackage: "tally.v1.DeactivatePackageRequest"
        case .listPackages: "tally.v1.ListPackagesRequest"
        case .startPurchase: "tally.v1.StartPurchaseRequest"
        case .completePurchase: "tally.v1.CompletePurchaseRequest"
        case .failPurchase: "tally.v1.FailPurchaseRequest"
        case .getPurchase: "tally.v1.GetPurchaseRequest"
        case .listPurchases: "tally.v1.ListPurchasesRequest"
        case .stats: "tally.v1.StatsRequest"
        case .getTransaction: "tally.v1.GetTransactionRequest"
        case .listTransactions: "tally.v1.ListTransactionsRequest"
        case .commit: "tally.v1.CommitRequest"
        case .cancelCommitment: "tally.v1.CancelCommitmentRequest"
        case .resolvePrediction: "tally.v1.ResolvePredictionRequest"
        case .voidPrediction: "tally.v1.VoidPredictionRequest"
        case .closePrediction: "tally.v1.ClosePredictionRequest"
        case .listCommitments: "tally.v1.ListCommitmentsRequest"
        case .setMembership: "tally.v1.SetMembershipRequest"
        case .getMembership: "tally.v1.GetMembershipRequest"
        case .setPrice: "tally.v1.SetPriceRequest"
        case .listPrices: "tally.v1.ListPricesRequest"
        case .spendAction: "tally.v1.SpendActionRequest"
        case .listAudit: "tally.v1.ListAuditRequest"
        case .reconcile: "tally.v1.ReconcileRequest"
        }
    }
}
