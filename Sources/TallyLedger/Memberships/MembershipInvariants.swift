/// The rules memberships and the price table obey, checked from scratch with the Ledger's.
extension Ledger {
    func membershipViolations() -> [String] {
        var violations: [String] = []
        for (user, membership) in memberships {
            if user.value.isEmpty || membership.tier.value.isEmpty { violations.append("membership of '\(user)' has an empty user or tier") }
            if membership.updatedAt > lastTimestamp { violations.append("membership of \(user) was set after the last command") }
        }
        for (action, price) in actionPrices {
            if action != price.action { violations.append("price of \(price.action) is stored under \(action)") }
            if price.costs.isEmpty { violations.append("action \(action) is kept without a price") }
            for (tier, cost) in price.costs where cost <= 0 { violations.append("action \(action) costs \(cost) on \(tier)") }
        }
        for tx in transactions.values where !tx.action.isEmpty && (tx.type != .spend || tx.tier.isEmpty) {
            violations.append("transaction \(tx.id) names action \(tx.action) but is a \(tx.type) on tier '\(tx.tier)'")
        }
        return violations
    }
}
