import SwiftProtobuf
import TallyLedger
import TallyWire

/// Building Response envelopes: errors with a code, reason and details; results with a payload.
enum Responses {
    static func error(
        callID: UInt64, _ code: Tally_V1_Code, reason: String, _ message: String, details: [String: String] = [:]
    ) -> Tally_V1_Response {
        var response = Tally_V1_Response()
        response.callID = callID
        response.code = code
        response.reason = reason
        response.message = message
        response.details = details
        return response
    }

    static func ok(callID: UInt64, _ payload: some SwiftProtobuf.Message) -> Tally_V1_Response {
        var response = Tally_V1_Response()
        response.callID = callID
        do {
            response.payload = try payload.serializedBytes()
        } catch {
            return Responses.error(callID: callID, .internal, reason: "INTERNAL", "could not encode the answer: \(error)")
        }
        return response
    }

    static func refused(callID: UInt64, _ refusal: Refusal) -> Tally_V1_Response {
        error(callID: callID, Tally_V1_Code(refusal.code), reason: refusal.reason, refusal.message, details: refusal.details)
    }

    static func admin(callID: UInt64, _ method: Method, _ result: Result<Snapshotter.Written, any Error>) -> Tally_V1_Response {
        switch result {
        case .failure(let failure):
            return error(callID: callID, .internal, reason: "SNAPSHOT_FAILED", "could not write the snapshot: \(failure)")
        case .success(let written):
            if method == .backup {
                return ok(callID: callID, Tally_V1_BackupResponse.with {
                    $0.path = written.path
                    $0.journalSequence = written.sequence
                    $0.bytes = Int64(written.bytes)
                    $0.accounts = Int64(written.accounts)
                })
            }
            return ok(callID: callID, Tally_V1_SnapshotResponse.with {
                $0.path = written.path
                $0.journalSequence = written.sequence
                $0.bytes = Int64(written.bytes)
                $0.accounts = Int64(written.accounts)
            })
        }
    }

    /// The answer to a Writer call. OK answers keep their payload message (OutboundResponse).
    static func answer(_ answer: WriterAnswer) -> OutboundResponse {
        let id = answer.callID
        switch answer.result {
        case .balance(let balance):
            return .balance(callID: id, balance)
        case .transaction(let transaction, let transactionID, _):
            guard let transaction else {
                return .envelope(error(
                    callID: id, .notFound, reason: "TRANSACTION_NOT_FOUND", "no transaction \(transactionID): none was made with that id",
                    details: ["transaction_id": String(transactionID)]))
            }
            return .ok(callID: id, payload: Tally_V1_GetTransactionResponse.with { $0.transaction = Tally_V1_Transaction(transaction) })
        case .purchase(let purchase, let paymentID):
            guard let purchase else {
                return .envelope(error(
                    callID: id, .notFound, reason: "PURCHASE_NOT_FOUND", "no purchase is paid by '\(paymentID)'",
                    details: ["payment_id": paymentID]))
            }
            return .ok(callID: id, payload: Tally_V1_PurchaseResponse.with { $0.purchase = Tally_V1_Purchase(purchase) })
        case .membership(let status):
            return .ok(callID: id, payload: Tally_V1_MembershipResponse(status))
        case .actionPrices(let prices):
            return .ok(callID: id, payload: Tally_V1_ListPricesResponse.with { $0.prices = prices.map(Tally_V1_ActionPrice.init) })
        case .usageStatus(let status):
            return .usageStatus(callID: id, status, replayed: nil)
        case .usageLimits(let limits, let retention):
            let settings = Tally_V1_UsageSettings(limits, retention: retention)
            if answer.method == .setLimits {
                return .ok(callID: id, payload: Tally_V1_SetLimitsResponse.with { $0.settings = settings })
            }
            return .ok(callID: id, payload: Tally_V1_GetLimitsResponse.with { $0.settings = settings })
        case .applied(let applied):
            switch applied.outcome {
            case .refused(var refusal):
                if applied.replayed { refusal.details["replayed"] = "true" }
                return .envelope(refused(callID: id, refusal))
            case .accepted(let receipt):
                let transaction = Tally_V1_Transaction(receipt.transaction)
                let balance = Tally_V1_Balance(receipt.balance)
                switch answer.method {
                case .credit:
                    return .ok(callID: id, payload: Tally_V1_CreditResponse.with {
                        $0.transaction = transaction
                        $0.balance = balance
                        $0.replayed = applied.replayed
                    })
                case .spend, .spendAction:
                    return .ok(callID: id, payload: Tally_V1_SpendResponse.with {
                        $0.transaction = transaction
                        $0.balance = balance
                        $0.replayed = applied.replayed
                    })
                default:
                    return .envelope(error(callID: id, .internal, reason: "INTERNAL", "\(answer.method.rawValue) produced a receipt"))
                }
            case .usage(let receipt):
                return usage(callID: id, answer.method, receipt, replayed: applied.replayed)
            case .package(let package):
                let wire = Tally_V1_TokenPackage(package)
                if answer.method == .deactivatePackage {
                    return .ok(callID: id, payload: Tally_V1_DeactivatePackageResponse.with { $0.package = wire })
                }
                return .ok(callID: id, payload: Tally_V1_SavePackageResponse.with { $0.package = wire })
            case .purchase(let receipt):
                return .ok(callID: id, payload: Tally_V1_PurchaseResponse.with {
                    $0.purchase = Tally_V1_Purchase(receipt.purchase)
                    $0.alreadyDone = receipt.alreadyDone
                })
            case .commitment(let receipt):
                return .ok(callID: id, payload: Tally_V1_CommitResponse(receipt, replayed: applied.replayed))
            case .predictionSettled(let summary, let alreadyDone):
                return .ok(callID: id, payload: Tally_V1_SettlePredictionResponse.with {
                    $0.summary = Tally_V1_PredictionSummary(summary)
                    $0.alreadyDone = alreadyDone
                })
            case .prediction(let prediction):
                return .ok(callID: id, payload: Tally_V1_ClosePredictionResponse.with { $0.prediction = Tally_V1_Prediction(prediction) })
            case .membership(let status):
                return .ok(callID: id, payload: Tally_V1_MembershipResponse(status))
            case .reconciled(let report):
                return .ok(callID: id, payload: Tally_V1_ReconcileResponse(report))
            case .actionPrice(let price):
                return .ok(callID: id, payload: Tally_V1_SetPriceResponse.with { $0.price = Tally_V1_ActionPrice(price) })
            case .usageLimits, .expired, .expiredPurchases, .auditTrimmed, .archivedTransactions, .archivedCommitments:
                // The Writer answers a limits change as .usageLimits; the expiry tick has no caller.
                return .envelope(error(callID: id, .internal, reason: "INTERNAL", "\(answer.method.rawValue) produced an unexpected outcome"))
            }
        case .deadlineExceeded:
            return .envelope(error(
                callID: id, .deadlineExceeded, reason: "DEADLINE_EXCEEDED",
                "the call's deadline passed before tallyd reached it; it was not applied"))
        case .rateLimited(let rateClass, let nanoseconds):
            let milliseconds = (nanoseconds + 999_999) / 1_000_000
            return .envelope(error(
                callID: id, .resourceExhausted, reason: "RATE_LIMITED",
                "too many \(rateClass.rawValue) calls for this user; nothing was applied, retry after \(milliseconds) ms",
                details: ["retry_after_ms": String(milliseconds), "rate_class": rateClass.rawValue]))
        case .unavailable(let reason, let message):
            return .envelope(error(callID: id, .unavailable, reason: reason, message))
        }
    }

    private static func usage(callID id: UInt64, _ method: Method, _ receipt: UsageReceipt, replayed: Bool) -> OutboundResponse {
        if method == .consume { return .usageStatus(callID: id, receipt.status, replayed: replayed) }
        let status = Tally_V1_UsageStatus(receipt.status)
        let reservation = receipt.reservation.map(Tally_V1_Reservation.init)
        switch method {
        case .reserve:
            return .ok(callID: id, payload: Tally_V1_ReserveResponse.with {
                if let reservation { $0.reservation = reservation }
                $0.status = status
                $0.replayed = replayed
            })
        case .settle:
            return .ok(callID: id, payload: Tally_V1_SettleResponse.with {
                if let reservation { $0.reservation = reservation }
                $0.status = status
                $0.replayed = replayed
            })
        case .release:
            return .ok(callID: id, payload: Tally_V1_ReleaseResponse.with {
                if let reservation { $0.reservation = reservation }
                $0.status = status
                $0.replayed = replayed
            })
        default:
            return .envelope(error(callID: id, .internal, reason: "INTERNAL", "\(method.rawValue) produced a usage receipt"))
        }
    }
}
