import TallyLedger
import TallyCodec
import TallyWire

/// tally.v1.Purchases: token packages for sale, and purchases of them credited once.
enum PurchaseEndpoints {
    static let all: [Endpoint] = [
        Endpoint(.savePackage, .admin, mutates: true, request: Tally_V1_SavePackageRequest.self) { body, _ in
            .writer(.apply(.savePackage(body.ledgerValue)))
        } answer: { id, result in
            guard case .package(let package)? = Responses.applied(result)?.outcome else { return nil }
            return .ok(callID: id, payload: Tally_V1_SavePackageResponse.with { $0.package = Tally_V1_TokenPackage(package) })
        },
        Endpoint(.deactivatePackage, .admin, mutates: true, request: Tally_V1_DeactivatePackageRequest.self) { body, _ in
            .writer(.apply(.deactivatePackage(id: body.packageID)))
        } answer: { id, result in
            guard case .package(let package)? = Responses.applied(result)?.outcome else { return nil }
            return .ok(callID: id, payload: Tally_V1_DeactivatePackageResponse.with { $0.package = Tally_V1_TokenPackage(package) })
        },
        Endpoint(.listPackages, .read, request: Tally_V1_ListPackagesRequest.self) { body, _ in
            .scan { ledger, _ in
                Tally_V1_ListPackagesResponse.with {
                    $0.packages = ledger.packages(includeInactive: body.includeInactive).map(Tally_V1_TokenPackage.init)
                }
            }
        },
        Endpoint(.startPurchase, .write, mutates: true, rateClass: .purchase, request: Tally_V1_StartPurchaseRequest.self) { body, _ in
            .writer(.apply(.startPurchase(body.ledgerValue)))
        } answer: { id, result in purchase(id, result) },
        Endpoint(.completePurchase, .write, mutates: true, request: Tally_V1_CompletePurchaseRequest.self) { body, _ in
            .writer(.apply(.settlePurchase(SettlePurchase(paymentID: body.paymentID, result: .completed))))
        } answer: { id, result in purchase(id, result) },
        Endpoint(.failPurchase, .write, mutates: true, request: Tally_V1_FailPurchaseRequest.self) { body, _ in
            .writer(.apply(.settlePurchase(SettlePurchase(paymentID: body.paymentID, result: .failed(reason: ExactString(body.reason))))))
        } answer: { id, result in purchase(id, result) },
        Endpoint(.getPurchase, .read, request: Tally_V1_GetPurchaseRequest.self) { body, _ in
            if let invalid = Validation.paymentID(body.paymentID) { return .invalid(invalid) }
            return .writer(.purchase(paymentID: body.paymentID))
        } answer: { id, result in
            guard case .purchase(let purchase, let paymentID) = result else { return nil }
            guard let purchase else {
                return .envelope(Responses.error(
                    callID: id, .notFound, reason: "PURCHASE_NOT_FOUND", "no purchase is paid by '\(paymentID)'",
                    details: ["payment_id": paymentID]))
            }
            return .ok(callID: id, payload: Tally_V1_PurchaseResponse.with { $0.purchase = Tally_V1_Purchase(purchase) })
        },
        Endpoint(.listPurchases, .read, request: Tally_V1_ListPurchasesRequest.self) { body, _ in
            if let invalid = Validation.userID(body.userID) { return .invalid(invalid) }
            switch PageLimit.decode(body.limit) {
            case .failure(let refusal): return .invalid(refusal)
            case .success(let limit):
                // A user's purchases are found by a scan of all of them: off the Writer.
                return .scan { ledger, _ in
                    Tally_V1_ListPurchasesResponse.with { $0.purchases = ledger.purchases(of: body.userID, limit: limit).map(Tally_V1_Purchase.init) }
                }
            }
        },
    ]

    /// A purchase started, completed or failed: the purchase now.
    private static func purchase(_ id: UInt64, _ result: WriterAnswer.Result) -> OutboundResponse? {
        guard case .purchase(let receipt)? = Responses.applied(result)?.outcome else { return nil }
        return .ok(callID: id, payload: Tally_V1_PurchaseResponse.with {
            $0.purchase = Tally_V1_Purchase(receipt.purchase)
            $0.alreadyDone = receipt.alreadyDone
        })
    }
}
