/// Reconciliation: every balance recomputed from the transaction history and compared
/// with the account. History is the record of every movement, so it must explain every balance a
/// user was shown; a mismatch means a movement is missing from it (a captured payment never credited, say) or an
/// account is damaged. None should exist: the check is the proof.
///
/// Repair writes the transactions history is missing, without moving the balance the user was
/// shown: an ADJUSTMENT for tokens the account holds beyond its recorded credits, a SPEND for
/// tokens recorded as spent beyond its recorded spends. What a missing transaction cannot explain
/// (fewer tokens earned or spent than history says, committed tokens, the system accounts) is
/// reported for an operator and left alone.
public struct Reconciliation: Equatable, Sendable {
    public struct Mismatch: Equatable, Sendable {
        /// A user id, or "mint", "burn", "house" for the system accounts.
        public var account: String
        /// "available", "committed", "total_earned", "total_spent", "version", or "balance".
        public var field: String
        public var stored: Int64
        public var fromHistory: Int64
    }

    public var accountsChecked: Int = 0
    public var transactionsChecked: Int = 0
    public var mismatches: [Mismatch] = []
    /// The transactions a repair wrote.
    public var repairs: [Transaction] = []
    /// Accounts whose mismatch a repair cannot explain with a transaction.
    public var unrepairable: [String] = []

    public var clean: Bool { mismatches.isEmpty }
}

extension Ledger {
    /// What each account and system account would be if built from history alone.
    struct FromHistory {
        var available: Int128 = 0, committed: Int128 = 0, earned: Int128 = 0, spent: Int128 = 0, count: Int64 = 0
    }

    /// Archived totals plus every transaction still in memory.
    func historyTotals() -> (users: [ExactString: FromHistory], mint: Int128, burn: Int128, house: Int128) {
        var users: [ExactString: FromHistory] = [:]
        for (user, totals) in archived.users {
            users[user] = FromHistory(
                available: Int128(totals.available), committed: Int128(totals.committed), earned: Int128(totals.earned),
                spent: Int128(totals.spent), count: Int64(clamping: totals.transactions))
        }
        var mint = Int128(archived.mint), burn = Int128(archived.burn), house = Int128(archived.house)
        for tx in transactions.values {
            let movement = Self.movement(of: tx)
            var entry = users[ExactString(tx.userID)] ?? FromHistory()
            entry.available += movement.available
            entry.committed += movement.committed
            entry.earned += movement.earned
            entry.spent += movement.spent
            entry.count += 1
            users[ExactString(tx.userID)] = entry
            mint += movement.mint
            burn += movement.burn
            house += movement.house
        }
        return (users, mint, burn, house)
    }

    public func reconciliation() -> Reconciliation {
        var report = Reconciliation(
            accountsChecked: accounts.count, transactionsChecked: transactions.count + Int(clamping: archived.count))
        let history = historyTotals()
        func clamp(_ value: Int128) -> Int64 { Int64(clamping: value) }
        for (user, account) in accounts.sorted(by: { $0.key < $1.key }) {
            let from = history.users[user] ?? FromHistory()
            for (field, stored, computed) in [
                ("available", account.available, from.available), ("committed", account.committed, from.committed),
                ("total_earned", account.totalEarned, from.earned), ("total_spent", account.totalSpent, from.spent),
                ("version", Int64(clamping: account.version), Int128(from.count)),
            ] where Int128(stored) != computed {
                report.mismatches.append(.init(account: user.value, field: field, stored: stored, fromHistory: clamp(computed)))
            }
        }
        for user in history.users.keys.sorted() where accounts[user] == nil {
            report.mismatches.append(.init(account: user.value, field: "balance", stored: 0, fromHistory: clamp(history.users[user]!.available)))
        }
        for (name, stored, computed) in [("mint", mint, history.mint), ("burn", burn, history.burn), ("house", house, history.house)]
        where Int128(stored) != computed {
            report.mismatches.append(.init(account: name, field: "balance", stored: stored, fromHistory: clamp(computed)))
        }
        return report
    }

    /// `Command.reconcile(repair:)`: the report, and with `repair` the missing transactions written.
    mutating func reconcile(repair: Bool, at now: Timestamp) -> Reconciliation {
        var report = reconciliation()
        guard repair, !report.clean else { return report }
        let history = historyTotals().users
        var broken = Set(report.mismatches.map(\.account))
        for user in broken.sorted() where !["mint", "burn", "house"].contains(user) {
            let key = ExactString(user)
            guard let account = accounts[key], let from = history[key] else {
                report.unrepairable.append(user)
                continue
            }
            let missingEarned = Int128(account.totalEarned) - from.earned
            let missingSpent = Int128(account.totalSpent) - from.spent
            // Explainable: only credits and spends are missing, and they add up to the balance.
            guard missingEarned >= 0, missingSpent >= 0, Int128(account.committed) == from.committed,
                from.available + missingEarned - missingSpent == Int128(account.available)
            else {
                report.unrepairable.append(user)
                continue
            }
            var available = from.available
            for (type, amount) in [(TransactionType.adjustment, missingEarned), (.spend, missingSpent)] where amount > 0 {
                let before = Int64(clamping: available)
                available += type == .spend ? -amount : amount
                let transaction = Transaction(
                    id: nextTransactionID, userID: user, type: type, amount: Int64(clamping: amount), balanceBefore: before,
                    balanceAfter: Int64(clamping: available), committedBefore: account.committed, committedAfter: account.committed,
                    reference: "reconciliation", memo: "a movement missing from history, recorded by reconciliation", idempotencyKey: "",
                    createdAt: now)
                transactions[transaction.id] = transaction
                nextTransactionID += 1
                report.repairs.append(transaction)
            }
            var repaired = account
            repaired.version = UInt64(clamping: Int128(from.count) + Int128(report.repairs.filter { $0.userID.utf8.elementsEqual(user.utf8) }.count))
            repaired.updatedAt = now
            accounts[key] = repaired
            broken.remove(user)
        }
        // The system accounts follow from history: whatever still disagrees needs an operator.
        report.unrepairable += reconciliation().mismatches.map(\.account).filter { ["mint", "burn", "house"].contains($0) }
        return report
    }
}
