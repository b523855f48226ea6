/// The rules packages and purchases obey, checked from scratch with the Ledger's.
extension Ledger {
    func purchaseViolations() -> [String] {
        var violations: [String] = []
        for (key, package) in packages where key != ExactString(package.id) {
            violations.append("package stored under \(key) has id \(package.id)")
        }
        var pending: [UInt64: Timestamp] = [:]
        for (id, purchase) in purchases {
            if id != purchase.id || id >= nextPurchaseID { violations.append("purchase stored under \(id) has id \(purchase.id)") }
            if purchasesByPayment[ExactString(purchase.paymentID)] != id {
                violations.append("purchase \(id)'s payment id '\(purchase.paymentID)' does not lead to it")
            }
            switch purchase.status {
            case .pending:
                pending[id] = purchase.createdAt
                if purchase.completion != nil { violations.append("pending purchase \(id) has a completion") }
            case .completed:
                guard let receipt = purchase.completion else {
                    violations.append("completed purchase \(id) has no credit")
                    continue
                }
                let tx = receipt.transaction
                if tx.type != .purchase || tx.amount != purchase.totalTokens || !same(tx.userID, purchase.userID)
                    || !same(tx.reference, purchase.paymentID) || transactions[tx.id].map { $0 != tx } ?? (tx.id >= nextTransactionID)
                {
                    violations.append("completed purchase \(id) is not matched by its credit \(tx.id) in history")
                }
            case .failed:
                if purchase.completion != nil || purchase.failureReason.isEmpty {
                    violations.append("failed purchase \(id) has a credit or no reason")
                }
            }
        }
        if purchasesByPayment.count != purchases.count {
            violations.append("\(purchasesByPayment.count) payment ids index \(purchases.count) purchases")
        }
        if pendingPurchases.count != pending.count || pending.contains(where: { pendingPurchases[$0.key] != $0.value }) {
            violations.append("the pending index does not match the pending purchases")
        }
        return violations
    }
}
