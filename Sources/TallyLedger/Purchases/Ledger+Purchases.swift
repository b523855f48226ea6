/// Token packages and purchases. A purchase moves pending → completed (its tokens credited, once)
/// or pending → failed (by the caller, or by the purchase tick after `purchaseTimeout`). A
/// completion that arrives for a purchase the tick failed still completes: the payment was
/// captured, and a ledger that refused to credit it would leave a paying user without the tokens.
extension Ledger {
    mutating func applyPurchase(_ command: Command, at now: Timestamp) -> Outcome {
        switch command {
        case .savePackage(let save): return savePackage(save, at: now)
        case .deactivatePackage(let id):
            guard var package = packages[ExactString(id)] else { return .refused(.packageNotFound(id)) }
            package.active = false
            package.updatedAt = now
            packages[ExactString(id)] = package
            return .package(package)
        case .startPurchase(let start): return startPurchase(start, at: now)
        case .settlePurchase(let settle): return settlePurchase(settle, at: now)
        case .expirePurchases: return .expiredPurchases(expirePurchases(at: now))
        default: preconditionFailure("not a purchase command")
        }
    }

    /// Active packages in display order (sort order, then id).
    public func activePackages() -> [TokenPackage] {
        packages.values.filter(\.active).sorted { ($0.sortOrder, ExactString($0.id)) < ($1.sortOrder, ExactString($1.id)) }
    }

    public func purchase(paymentID: String) -> Purchase? {
        purchasesByPayment[ExactString(paymentID)].flatMap { purchases[$0] }
    }

    private mutating func savePackage(_ save: SavePackage, at now: Timestamp) -> Outcome {
        let key = ExactString(save.id)
        let createdAt = packages[key]?.createdAt ?? now
        let package = TokenPackage(
            id: save.id, name: save.name, tokens: save.tokens, bonusTokens: save.bonusTokens, priceCents: save.priceCents,
            currency: save.currency, externalPriceID: save.externalPriceID, active: save.active, sortOrder: save.sortOrder,
            createdAt: createdAt, updatedAt: now)
        packages[key] = package
        return .package(package)
    }

    private mutating func startPurchase(_ start: StartPurchase, at now: Timestamp) -> Outcome {
        if let existing = purchase(paymentID: start.paymentID) {
            guard same(existing.userID, start.userID), same(existing.packageID, start.packageID) else {
                return .refused(.paymentIDInUse(start.paymentID, by: existing))
            }
            return .purchase(PurchaseReceipt(purchase: existing, alreadyDone: true))
        }
        guard let package = packages[ExactString(start.packageID)] else { return .refused(.packageNotFound(start.packageID)) }
        guard package.active else {
            return .refused(Refusal(
                code: .failedPrecondition, reason: "PACKAGE_INACTIVE", message: "package '\(package.id)' is not for sale",
                details: ["package_id": package.id]))
        }
        guard checkedAdd(package.tokens, package.bonusTokens) != nil else {
            return .refused(.overflow(.user, userID: start.userID, amount: package.tokens))
        }
        let purchase = Purchase(
            id: nextPurchaseID, userID: start.userID, packageID: package.id, paymentID: start.paymentID, tokens: package.tokens,
            bonusTokens: package.bonusTokens, priceCents: package.priceCents, currency: package.currency, status: .pending,
            failureReason: "", createdAt: now, settledAt: 0, completion: nil)
        nextPurchaseID += 1
        purchases[purchase.id] = purchase
        purchasesByPayment[ExactString(purchase.paymentID)] = purchase.id
        pendingPurchases[purchase.id] = now
        return .purchase(PurchaseReceipt(purchase: purchase, alreadyDone: false))
    }

    private mutating func settlePurchase(_ settle: SettlePurchase, at now: Timestamp) -> Outcome {
        guard var purchase = purchase(paymentID: settle.paymentID) else {
            return .refused(Refusal(
                code: .notFound, reason: "PURCHASE_NOT_FOUND", message: "no purchase is paid by '\(settle.paymentID)'",
                details: ["payment_id": settle.paymentID]))
        }
        switch (settle.result, purchase.status) {
        case (.completed, .completed):
            return .purchase(PurchaseReceipt(purchase: purchase, alreadyDone: true))
        case (.failed, .failed):
            return .purchase(PurchaseReceipt(purchase: purchase, alreadyDone: true))
        case (.failed, .completed):
            return .refused(.purchaseSettled(purchase, "it completed and its tokens were credited; refund them with a credit of kind refund or an adjustment"))
        case (.completed, .failed) where purchase.failureReason != Purchase.expiredReason:
            return .refused(.purchaseSettled(purchase, "it failed (\(purchase.failureReason))"))
        case (.completed, _):
            // Pending, or failed only by the timeout: the payment was captured, so credit it.
            let credit = Credit(
                userID: purchase.userID, amount: purchase.totalTokens ?? 0, kind: .purchase, reference: purchase.paymentID,
                memo: "purchase \(purchase.id) of package \(purchase.packageID)")
            switch self.credit(credit, at: now) {
            case .accepted(let receipt):
                purchase.status = .completed
                purchase.failureReason = ""
                purchase.settledAt = now
                purchase.completion = receipt
            case .refused(let refusal):
                return .refused(refusal)
            default:
                preconditionFailure("a credit answers a receipt or a refusal")
            }
        case (.failed(let reason), .pending):
            purchase.status = .failed
            purchase.failureReason = reason.value
            purchase.settledAt = now
        }
        purchases[purchase.id] = purchase
        pendingPurchases[purchase.id] = nil
        return .purchase(PurchaseReceipt(purchase: purchase, alreadyDone: false))
    }

    /// Fails every purchase pending for `purchaseTimeout` or longer, oldest first.
    private mutating func expirePurchases(at now: Timestamp) -> [Purchase] {
        let due = pendingPurchases.filter { now - $0.value >= config.purchaseTimeout }.keys.sorted()
        return due.compactMap { id in
            guard var purchase = purchases[id] else { return nil }
            purchase.status = .failed
            purchase.failureReason = Purchase.expiredReason
            purchase.settledAt = now
            purchases[id] = purchase
            pendingPurchases[id] = nil
            return purchase
        }
    }
}

extension Refusal {
    static func packageNotFound(_ id: String) -> Refusal {
        Refusal(code: .notFound, reason: "PACKAGE_NOT_FOUND", message: "no token package '\(id)'", details: ["package_id": id])
    }

    static func paymentIDInUse(_ paymentID: String, by purchase: Purchase) -> Refusal {
        Refusal(
            code: .alreadyExists, reason: "PAYMENT_ID_IN_USE",
            message: "payment id '\(paymentID)' already pays purchase \(purchase.id) (another user or package); each payment pays one purchase",
            details: ["payment_id": paymentID, "purchase_id": String(purchase.id)])
    }

    static func purchaseSettled(_ purchase: Purchase, _ why: String) -> Refusal {
        Refusal(
            code: .failedPrecondition, reason: "PURCHASE_ALREADY_SETTLED",
            message: "purchase \(purchase.id) paid by '\(purchase.paymentID)' cannot change: \(why)",
            details: ["purchase_id": String(purchase.id), "status": String(describing: purchase.status)])
    }
}
