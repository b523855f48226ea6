import SwiftProtobuf
import TallyCodec
import TallyLedger
import TallyStore
import TallyWire

/// A journal record and what applying it gave, as the change feed's message (Admin/Changes):
/// the call it carried out with its request message, and the answer its caller got.
enum JournalChangeEncoding {
    static func message(_ record: JournalRecord, _ applied: Applied) -> Tally_V1_JournalChange {
        var change = Tally_V1_JournalChange()
        change.sequence = record.sequence
        change.atUs = record.timestamp
        if let origin = record.origin {
            change.uid = origin.uid
            change.gid = origin.gid
            change.role = origin.role
        }
        if let day = record.day { change.usageDay = day.date.description }
        let stamped = Tally_Store_V1_StampedCommand(record.command, at: record.timestamp, day: record.day, origin: record.origin)
        let (method, request, internalWork) = call(stamped, origin: record.origin)
        if let method {
            change.method = method.rawValue
            change.request = (try? request?.serializedData()) ?? change.request
            change.result = result(of: applied, for: method)
        } else {
            change.internal = internalWork
            if case .refused(let refusal) = applied.outcome { change.result = Responses.refused(callID: 0, refusal) }
        }
        return change
    }

    /// The answer the caller of `method` got for `applied` (call id 0).
    static func result(of applied: Applied, for method: Method) -> Tally_V1_Response {
        let outbound = Responses.answer(WriterAnswer(callID: 0, method: method, result: .applied(applied)))
        return (try? outbound.envelopeMessage()) ?? Responses.error(callID: 0, .internal, reason: "INTERNAL", "the answer did not encode")
    }

    /// The wire method and request a stored command carries out, or the name of the Writer's
    /// own work it is.
    static func call(_ stamped: Tally_Store_V1_StampedCommand, origin: AuditOrigin?)
        -> (method: Method?, request: (any SwiftProtobuf.Message)?, internalWork: String)
    {
        switch stamped.command {
        case .credit(let r): (.credit, r, "")
        case .spend(let r): (.spend, r, "")
        case .consume(let r): (.consume, r, "")
        case .reserve(let r): (.reserve, r, "")
        case .settle(let r): (.settle, r, "")
        case .release(let r): (.release, r, "")
        case .changeUsage(let r): (.setLimits, r, "")
        case .savePackage(let r): (.savePackage, r, "")
        case .deactivatePackage(let r): (.deactivatePackage, r, "")
        case .startPurchase(let r): (.startPurchase, r, "")
        case .completePurchase(let r): (.completePurchase, r, "")
        case .failPurchase(let r): (.failPurchase, r, "")
        case .commit(let r): (.commit, r, "")
        case .cancelCommitment(let r): (.cancelCommitment, r, "")
        case .resolvePrediction(let r): (.resolvePrediction, r, "")
        case .voidPrediction(let r): (.voidPrediction, r, "")
        case .closePrediction(let r): (.closePrediction, r, "")
        case .setMembership(let r): (.setMembership, r, "")
        case .setPrice(let r): (.setPrice, r, "")
        case .spendAction(let r): (.spendAction, r, "")
        case .reconcile(let r): (.reconcile, r, "")
        // Refused before the Ledger: the method is the caller's; there is no request to show.
        case .refusedAttempt: (origin.flatMap { Method(rawValue: $0.method) }, nil, origin == nil ? "REFUSED_ATTEMPT" : "")
        case .expireReservations: (nil, nil, "EXPIRE_RESERVATIONS")
        case .expirePurchases: (nil, nil, "EXPIRE_PURCHASES")
        case .trimAudit: (nil, nil, "TRIM_AUDIT")
        case .archiveTransactions: (nil, nil, "ARCHIVE_TRANSACTIONS")
        case .archiveCommitments: (nil, nil, "ARCHIVE_COMMITMENTS")
        case nil: (nil, nil, "UNKNOWN")
        }
    }
}
