import Foundation
import SwiftProtobuf
import TallyLedger
import TallyCodec
import TallyWire

/// A journal record's command (tally.store.v1.StampedCommand): a Ledger command with the time
/// and usage day it was applied at and who called, and back.
extension Tally_Store_V1_StampedCommand {
    public init(_ command: Command, at timestamp: Timestamp, day: UsageDay? = nil, origin: AuditOrigin? = nil) {
        self.init()
        timestampUs = timestamp
        if let origin { self.origin = Tally_Store_V1_AuditOrigin(origin) }
        switch command {
        case .credit(let credit): self.credit = Tally_V1_CreditRequest(credit)
        case .spend(let spend): self.spend = Tally_V1_SpendRequest(spend)
        case .consume(let consume): self.consume = Tally_V1_ConsumeRequest(consume)
        case .reserve(let reserve): self.reserve = Tally_V1_ReserveRequest(reserve)
        case .settle(let settle): self.settle = Tally_V1_SettleRequest(settle)
        case .release(let release): self.release = Tally_V1_ReleaseRequest(release)
        case .changeUsage(let change): changeUsage = Tally_V1_SetLimitsRequest(change)
        case .expireReservations: expireReservations = Tally_Store_V1_ExpireReservations()
        case .savePackage(let save): savePackage = Tally_V1_SavePackageRequest(save)
        case .deactivatePackage(let id): deactivatePackage = .with { $0.packageID = id }
        case .startPurchase(let start): startPurchase = Tally_V1_StartPurchaseRequest(start)
        case .settlePurchase(let settle):
            switch settle.result {
            case .completed: completePurchase = .with { $0.paymentID = settle.paymentID }
            case .failed(let reason):
                failPurchase = .with {
                    $0.paymentID = settle.paymentID
                    $0.reason = reason.value
                }
            }
        case .expirePurchases: expirePurchases = Tally_Store_V1_ExpirePurchases()
        case .commit(let commit): self.commit = Tally_V1_CommitRequest(commit)
        case .cancelCommitment(let id): cancelCommitment = .with { $0.commitmentID = id }
        case .settlePrediction(let settle):
            switch settle.result {
            case .resolve(let winning):
                resolvePrediction = .with {
                    $0.predictionID = settle.predictionID
                    $0.winning = Tally_V1_Position(winning)
                }
            case .void: voidPrediction = .with { $0.predictionID = settle.predictionID }
            }
        case .closePrediction(let id, let closesAt):
            closePrediction = .with {
                $0.predictionID = id
                $0.closesAtUs = closesAt ?? 0
            }
        case .setMembership(let set): setMembership = Tally_V1_SetMembershipRequest(set)
        case .setActionPrice(let set): setPrice = Tally_V1_SetPriceRequest(set)
        case .spendAction(let spend): spendAction = Tally_V1_SpendActionRequest(spend)
        case .reconcile(let repair): reconcile = .with { $0.repair = repair }
        case .trimAudit(let through): trimAudit = .with { $0.through = through }
        case .archiveTransactions(let archive):
            archiveTransactions = .with {
                $0.batch = archive.batch
                $0.ids = archive.ids
            }
        case .archiveCommitments(let archive):
            archiveCommitments = .with {
                $0.batch = archive.batch
                $0.ids = archive.ids
            }
        case .refusedAttempt(let attempt):
            refusedAttempt = .with {
                $0.userID = attempt.userID
                $0.code = Tally_V1_Code(attempt.refusal.code)
                $0.reason = attempt.refusal.reason
                $0.message = attempt.refusal.message
                $0.details = attempt.refusal.details
            }
        }
        if let day { usageDay = Tally_Store_V1_UsageDay(day) }
    }

    /// nil when the record holds no command this build knows, or an impossible one.
    public var ledgerCommand: Command? {
        switch command {
        case .credit(let credit): .credit(credit.ledgerValue)
        case .spend(let spend): .spend(spend.ledgerValue)
        case .consume(let consume): .consume(consume.ledgerValue)
        case .reserve(let reserve): .reserve(reserve.ledgerValue)
        case .settle(let settle): .settle(settle.ledgerValue)
        case .release(let release): .release(release.ledgerValue)
        case .changeUsage(let change): (try? change.ledgerValue.get()).map { Command.changeUsage($0) }
        case .expireReservations: .expireReservations
        case .savePackage(let save): .savePackage(save.ledgerValue)
        case .deactivatePackage(let request): .deactivatePackage(id: request.packageID)
        case .startPurchase(let start): .startPurchase(start.ledgerValue)
        case .completePurchase(let request): .settlePurchase(SettlePurchase(paymentID: request.paymentID, result: .completed))
        case .failPurchase(let request): .settlePurchase(SettlePurchase(paymentID: request.paymentID, result: .failed(reason: ExactString(request.reason))))
        case .expirePurchases: .expirePurchases
        case .commit(let commit): .commit(commit.ledgerValue)
        case .cancelCommitment(let request): .cancelCommitment(id: request.commitmentID)
        case .resolvePrediction(let request):
            .settlePrediction(SettlePrediction(predictionID: request.predictionID, result: .resolve(winning: request.winning.ledgerValue)))
        case .voidPrediction(let request): .settlePrediction(SettlePrediction(predictionID: request.predictionID, result: .void))
        case .closePrediction(let request): .closePrediction(id: request.predictionID, at: request.closesAtUs == 0 ? nil : request.closesAtUs)
        case .setMembership(let request): .setMembership(request.ledgerValue)
        case .setPrice(let request): .setActionPrice(request.ledgerValue)
        case .spendAction(let request): .spendAction(request.ledgerValue)
        case .reconcile(let request): .reconcile(repair: request.repair)
        case .trimAudit(let request): .trimAudit(through: request.through)
        case .archiveTransactions(let request): .archiveTransactions(ArchiveTransactions(batch: request.batch, ids: request.ids))
        case .archiveCommitments(let request): .archiveCommitments(ArchiveCommitments(batch: request.batch, ids: request.ids))
        case .refusedAttempt(let attempt):
            Refusal.Code(rawValue: attempt.code.rawValue).map {
                .refusedAttempt(RefusedAttempt(
                    userID: attempt.userID,
                    refusal: Refusal(code: $0, reason: attempt.reason, message: attempt.message, details: attempt.details)))
            }
        case nil: nil
        }
    }
}

extension Tally_Store_V1_AuditOrigin {
    init(_ origin: AuditOrigin) {
        self.init()
        uid = origin.uid
        gid = origin.gid
        role = origin.role
        method = origin.method
    }

    var ledgerValue: AuditOrigin { AuditOrigin(uid: uid, gid: gid, role: role, method: method) }
}
