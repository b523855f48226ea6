import Foundation
import SwiftProtobuf
import TallyCodec
import TallyLedger
import TallyWire

@testable import TallyServer

// The first byte picks a mode:
//  - even: the rest is a frame body, decoded as a Request as ConnectionHandler does, and, when
//    that succeeds with a call id, handed to CallDecoding.decode;
//  - odd: a valid envelope (call id, version 1) for the method picked by the second byte, with
//    the rest as its payload, so every method's payload decoding and validation is reached.
// Nothing may crash, and every answer must agree with docs/protocol.md §3, §8 and §11.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard let mode = input.first else { return 0 }
    if mode & 1 == 0 {
        guard let request = try? Tally_V1_Request(serializedBytes: Array(input.dropFirst())) else { return 0 }
        guard request.callID != 0 else { return 0 }  // CALL_ID_MISSING: the connection answers it
        check(request, CallDecoding.decode(request, role: .admin))
    } else {
        guard input.count >= 2 else { return 0 }
        let method = Method.allCases[Int(input[1]) % Method.allCases.count]
        var request = Tally_V1_Request()
        request.callID = UInt64(input[1]) + 1
        request.protocolVersion = WireProtocol.version
        request.method = method.rawValue
        request.timeoutMs = input[1] & 0x80 == 0 ? 0 : 1_000
        request.payload = Data(input.dropFirst(2))
        let decoded = CallDecoding.decode(request, role: .admin)
        check(request, decoded)
        if case .answer(_, let answer) = decoded, answer.reason == "UNKNOWN_METHOD" || answer.reason == "PROTOCOL_VERSION_UNSUPPORTED" {
            fatalError("a valid envelope for \(method) was answered \(answer.reason)")
        }
    }
    return 0
}

/// What any decoded call must satisfy, given the request it came from.
func check(_ request: Tally_V1_Request, _ decoded: CallDecoding.Decoded) {
    let method = Method(rawValue: request.method)
    let versionOK = WireProtocol.supportedVersions.contains(request.protocolVersion)
    switch decoded {
    case .answer(_, let answer):
        guard answer.callID == request.callID else { fatalError("answer for call \(answer.callID), asked \(request.callID)") }
        guard answer.code != .ok, !answer.reason.isEmpty else { fatalError("refusal without code or reason: \(answer)") }
        if answer.reason == "UNKNOWN_METHOD" {
            guard method == nil else { fatalError("known method \(request.method) answered UNKNOWN_METHOD") }
            // docs/security.md: the echo is cut at 200 bytes so the answer stays small.
            guard let echo = answer.details["method"], echo.utf8.count <= 200, answer.message.utf8.count <= 200 + 20 else {
                fatalError("UNKNOWN_METHOD echo too long: \(answer.details["method"]?.utf8.count ?? -1) bytes")
            }
        }
        if answer.reason == "MALFORMED_PAYLOAD", let method, parses(request.payload, for: method) {
            fatalError("a payload that parses as \(method.endpoint.requestType) was answered MALFORMED_PAYLOAD")
        }
        // Version is checked first, then the method: an answer past them must name a known method.
        if answer.reason != "PROTOCOL_VERSION_UNSUPPORTED" && !versionOK { fatalError("bad version got \(answer.reason)") }
    case .refused(let callID, let refusedMethod, let refusal):
        // To be audited: a refusal of a known method of this protocol, never an OK.
        guard callID == request.callID, versionOK, refusedMethod == method, !refusal.reason.isEmpty else {
            fatalError("refused \(refusal) for \(request)")
        }
        if refusal.reason == "MALFORMED_PAYLOAD", parses(request.payload, for: refusedMethod) {
            fatalError("a payload that parses as \(refusedMethod.endpoint.requestType) was refused MALFORMED_PAYLOAD")
        }
        guard refusedMethod.isMutation || refusal.code == .permissionDenied else { fatalError("a read refusal routed to the audit log") }
    case .stream(let callID, let streamMethod, _, let deadline):
        guard versionOK, streamMethod == method, streamMethod == .watchBalance || streamMethod == .watchUsage || streamMethod == .changes, callID == request.callID else {
            fatalError("stream \(streamMethod) does not match the request \(request)")
        }
        guard (deadline == nil) == (request.timeoutMs == 0) else { fatalError("a stream's deadline does not follow timeout_ms") }
    case .call(let call):
        guard versionOK, let method, call.method == method, call.callID == request.callID else {
            fatalError("call \(call) does not match the request \(request)")
        }
        guard (call.deadline == nil) == (request.timeoutMs == 0) else { fatalError("deadline does not follow timeout_ms") }
        switch call.operation {
        case .balance(let userID):
            guard method == .getBalance, Validation.userID(userID) == nil else { fatalError("bad balance call \(userID)") }
        case .apply(let command):
            // Mutations reach the Writer unvalidated (the Ledger validates them); they must be
            // exactly what the payload says, since that is what is journaled.
            let expected = expectedCommand(method, request.payload)
            guard command == expected else { fatalError("\(method) decoded to \(command), expected \(String(describing: expected))") }
        case .usageStatus(let userID):
            guard method == .checkUsage, Validation.userID(userID) == nil else { fatalError("bad usage check \(userID)") }
        case .usageLimits:
            guard method == .getLimits else { fatalError("\(method) decoded to a limits read") }
        case .purchase(let paymentID):
            guard method == .getPurchase, Validation.paymentID(paymentID) == nil else { fatalError("bad purchase read \(paymentID)") }
        case .transaction:
            guard method == .getTransaction else { fatalError("\(method) decoded to a transaction read") }
        case .membership(let userID):
            guard method == .getMembership, Validation.userID(userID) == nil else { fatalError("bad membership read \(userID)") }
        case .actionPrices:
            guard method == .listPrices else { fatalError("\(method) decoded to a price list") }
        }
    case .offWriter(let callID, let decoded, _):
        // A reconciliation report reads a copy; only its repair is a mutation.
        guard versionOK, callID == request.callID, let method, decoded == method, !method.isMutation || method == .reconcile, method != .getBalance else {
            fatalError("call served off the Writer from \(request)")
        }
        if method == .backup, let path = try? Tally_V1_BackupRequest(serializedBytes: request.payload).path, !path.hasPrefix("/") {
            fatalError("relative backup path accepted: \(path)")
        }
    }
}

/// The command a mutation's payload must decode to (what is journaled), or nil if it does not parse.
func expectedCommand(_ method: Method, _ payload: Data) -> Command? {
    func decode<M: SwiftProtobuf.Message>(_: M.Type) -> M? { try? M(serializedBytes: payload) }
    switch method {
    case .credit: return decode(Tally_V1_CreditRequest.self).map { .credit($0.ledgerValue) }
    case .spend: return decode(Tally_V1_SpendRequest.self).map { .spend($0.ledgerValue) }
    case .consume: return decode(Tally_V1_ConsumeRequest.self).map { .consume($0.ledgerValue) }
    case .reserve: return decode(Tally_V1_ReserveRequest.self).map { .reserve($0.ledgerValue) }
    case .settle: return decode(Tally_V1_SettleRequest.self).map { .settle($0.ledgerValue) }
    case .release: return decode(Tally_V1_ReleaseRequest.self).map { .release($0.ledgerValue) }
    case .setLimits: return decode(Tally_V1_SetLimitsRequest.self).flatMap { try? $0.ledgerValue.get() }.map { .changeUsage($0) }
    case .savePackage: return decode(Tally_V1_SavePackageRequest.self).map { .savePackage($0.ledgerValue) }
    case .deactivatePackage: return decode(Tally_V1_DeactivatePackageRequest.self).map { .deactivatePackage(id: $0.packageID) }
    case .startPurchase: return decode(Tally_V1_StartPurchaseRequest.self).map { .startPurchase($0.ledgerValue) }
    case .completePurchase:
        return decode(Tally_V1_CompletePurchaseRequest.self).map { .settlePurchase(SettlePurchase(paymentID: $0.paymentID, result: .completed)) }
    case .failPurchase:
        return decode(Tally_V1_FailPurchaseRequest.self).map {
            .settlePurchase(SettlePurchase(paymentID: $0.paymentID, result: .failed(reason: ExactString($0.reason))))
        }
    case .commit: return decode(Tally_V1_CommitRequest.self).map { .commit($0.ledgerValue) }
    case .cancelCommitment: return decode(Tally_V1_CancelCommitmentRequest.self).map { .cancelCommitment(id: $0.commitmentID) }
    case .resolvePrediction:
        return decode(Tally_V1_ResolvePredictionRequest.self).map {
            .settlePrediction(SettlePrediction(predictionID: $0.predictionID, result: .resolve(winning: $0.winning.ledgerValue)))
        }
    case .voidPrediction:
        return decode(Tally_V1_VoidPredictionRequest.self).map { .settlePrediction(SettlePrediction(predictionID: $0.predictionID, result: .void)) }
    case .closePrediction:
        return decode(Tally_V1_ClosePredictionRequest.self).map { .closePrediction(id: $0.predictionID, at: $0.closesAtUs == 0 ? nil : $0.closesAtUs) }
    case .setMembership: return decode(Tally_V1_SetMembershipRequest.self).map { .setMembership($0.ledgerValue) }
    case .setPrice: return decode(Tally_V1_SetPriceRequest.self).map { .setActionPrice($0.ledgerValue) }
    case .spendAction: return decode(Tally_V1_SpendActionRequest.self).map { .spendAction($0.ledgerValue) }
    case .reconcile: return decode(Tally_V1_ReconcileRequest.self).flatMap { $0.repair ? .reconcile(repair: true) : nil }
    default: return nil  // not a mutation
    }
}

/// Whether `payload` parses as the method's request type.
func parses(_ payload: Data, for method: Method) -> Bool {
    func ok<M: SwiftProtobuf.Message>(_: M.Type) -> Bool { (try? M(serializedBytes: payload)) != nil }
    switch method {
    case .getBalance: return ok(Tally_V1_GetBalanceRequest.self)
    case .credit: return ok(Tally_V1_CreditRequest.self)
    case .spend: return ok(Tally_V1_SpendRequest.self)
    case .getTransaction: return ok(Tally_V1_GetTransactionRequest.self)
    case .listTransactions: return ok(Tally_V1_ListTransactionsRequest.self)
    case .snapshot: return ok(Tally_V1_SnapshotRequest.self)
    case .backup: return ok(Tally_V1_BackupRequest.self)
    case .health: return ok(Tally_V1_HealthRequest.self)
    case .metrics: return ok(Tally_V1_MetricsRequest.self)
    case .watchBalance: return ok(Tally_V1_WatchBalanceRequest.self)
    case .watchUsage: return ok(Tally_V1_WatchUsageRequest.self)
    case .changes: return ok(Tally_V1_ChangesRequest.self)
    case .stats: return ok(Tally_V1_StatsRequest.self)
    case .checkUsage: return ok(Tally_V1_CheckUsageRequest.self)
    case .consume: return ok(Tally_V1_ConsumeRequest.self)
    case .reserve: return ok(Tally_V1_ReserveRequest.self)
    case .settle: return ok(Tally_V1_SettleRequest.self)
    case .release: return ok(Tally_V1_ReleaseRequest.self)
    case .getLimits: return ok(Tally_V1_GetLimitsRequest.self)
    case .setLimits: return ok(Tally_V1_SetLimitsRequest.self)
    case .usageHistory: return ok(Tally_V1_UsageHistoryRequest.self)
    case .topUsers: return ok(Tally_V1_TopUsersRequest.self)
    case .monthByTier: return ok(Tally_V1_MonthByTierRequest.self)
    case .savePackage: return ok(Tally_V1_SavePackageRequest.self)
    case .deactivatePackage: return ok(Tally_V1_DeactivatePackageRequest.self)
    case .listPackages: return ok(Tally_V1_ListPackagesRequest.self)
    case .startPurchase: return ok(Tally_V1_StartPurchaseRequest.self)
    case .completePurchase: return ok(Tally_V1_CompletePurchaseRequest.self)
    case .failPurchase: return ok(Tally_V1_FailPurchaseRequest.self)
    case .getPurchase: return ok(Tally_V1_GetPurchaseRequest.self)
    case .listPurchases: return ok(Tally_V1_ListPurchasesRequest.self)
    case .commit: return ok(Tally_V1_CommitRequest.self)
    case .cancelCommitment: return ok(Tally_V1_CancelCommitmentRequest.self)
    case .resolvePrediction: return ok(Tally_V1_ResolvePredictionRequest.self)
    case .voidPrediction: return ok(Tally_V1_VoidPredictionRequest.self)
    case .closePrediction: return ok(Tally_V1_ClosePredictionRequest.self)
    case .listCommitments: return ok(Tally_V1_ListCommitmentsRequest.self)
    case .setMembership: return ok(Tally_V1_SetMembershipRequest.self)
    case .getMembership: return ok(Tally_V1_GetMembershipRequest.self)
    case .setPrice: return ok(Tally_V1_SetPriceRequest.self)
    case .listPrices: return ok(Tally_V1_ListPricesRequest.self)
    case .spendAction: return ok(Tally_V1_SpendActionRequest.self)
    case .listAudit: return ok(Tally_V1_ListAuditRequest.self)
    case .reconcile: return ok(Tally_V1_ReconcileRequest.self)
    }
}
