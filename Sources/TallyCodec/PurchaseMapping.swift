import TallyLedger
import TallyWire

// Conversions between packages and purchases and their wire messages (tally.v1.Purchases).
// The store reuses them: snapshots hold packages and purchases in their wire form.

extension Tally_V1_TokenPackage {
    public init(_ package: TokenPackage) {
        self.init()
        id = package.id
        name = package.name
        tokens = package.tokens
        bonusTokens = package.bonusTokens
        priceCents = package.priceCents
        currency = package.currency
        externalPriceID = package.externalPriceID
        active = package.active
        sortOrder = package.sortOrder
        createdAtUs = package.createdAt
        updatedAtUs = package.updatedAt
    }

    public var ledgerValue: TokenPackage {
        TokenPackage(
            id: id, name: name, tokens: tokens, bonusTokens: bonusTokens, priceCents: priceCents, currency: currency,
            externalPriceID: externalPriceID, active: active, sortOrder: sortOrder, createdAt: createdAtUs, updatedAt: updatedAtUs)
    }
}

extension Tally_V1_SavePackageRequest {
    public init(_ save: SavePackage) {
        self.init()
        package = .with {
            $0.id = save.id
            $0.name = save.name
            $0.tokens = save.tokens
            $0.bonusTokens = save.bonusTokens
            $0.priceCents = save.priceCents
            $0.currency = save.currency
            $0.externalPriceID = save.externalPriceID
            $0.active = save.active
            $0.sortOrder = save.sortOrder
        }
    }

    public var ledgerValue: SavePackage {
        SavePackage(
            id: package.id, name: package.name, tokens: package.tokens, bonusTokens: package.bonusTokens,
            priceCents: package.priceCents, currency: package.currency, externalPriceID: package.externalPriceID,
            active: package.active, sortOrder: package.sortOrder)
    }
}

extension Tally_V1_StartPurchaseRequest {
    public init(_ start: StartPurchase) {
        self.init()
        userID = start.userID
        packageID = start.packageID
        paymentID = start.paymentID
    }

    public var ledgerValue: StartPurchase { StartPurchase(userID: userID, packageID: packageID, paymentID: paymentID) }
}

extension Tally_V1_Purchase {
    public init(_ purchase: Purchase) {
        self.init()
        id = purchase.id
        userID = purchase.userID
        packageID = purchase.packageID
        paymentID = purchase.paymentID
        tokens = purchase.tokens
        bonusTokens = purchase.bonusTokens
        priceCents = purchase.priceCents
        currency = purchase.currency
        status = Tally_V1_PurchaseStatus(rawValue: purchase.status.rawValue) ?? .unspecified
        failureReason = purchase.failureReason
        createdAtUs = purchase.createdAt
        settledAtUs = purchase.settledAt
        if let receipt = purchase.completion {
            transaction = Tally_V1_Transaction(receipt.transaction)
            balance = Tally_V1_Balance(receipt.balance)
        }
    }

    /// nil for a status or transaction type this build does not know (a damaged record).
    public var ledgerValue: Purchase? {
        guard let status = Purchase.Status(rawValue: status.rawValue) else { return nil }
        var completion: Receipt?
        if hasTransaction {
            guard let tx = transaction.ledgerValue else { return nil }
            completion = Receipt(transaction: tx, balance: balance.ledgerValue)
        }
        return Purchase(
            id: id, userID: userID, packageID: packageID, paymentID: paymentID, tokens: tokens, bonusTokens: bonusTokens,
            priceCents: priceCents, currency: currency, status: status, failureReason: failureReason, createdAt: createdAtUs,
            settledAt: settledAtUs, completion: completion)
    }
}
