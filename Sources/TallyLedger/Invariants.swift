/// Every rule the Ledger's state must obey, checked from scratch. Used by tests after every
/// step, by recovery after loading a snapshot, and (later) by the health report.
extension Ledger {
    public func invariantViolations() -> [String] {
        balanceViolations() + recordViolations()
    }

    /// The rules of balances: each transaction moves what its type says, each account equals
    /// its history, and the double entry sums to zero. Most of the check's time, in proportion
    /// to the transactions held; independent of `recordViolations`, so the two can run at once,
    /// and itself split by user into parts that can (`balanceCheck(part:of:)`).
    public func balanceViolations() -> [String] {
        balanceViolations(combining: [balanceCheck(part: 0, of: 1)])
    }

    /// What one part of the balance check found: its violations and its users' tokens.
    public struct BalanceCheck: Sendable {
        var violations: [String] = []
        /// Int128 so that the checks themselves cannot overflow.
        var userSum: Int128 = 0
    }

    /// The balance rules of the users in part `part` of `parts` (users split by their id's
    /// bytes, `BalancePartition`): their transactions, their accounts against their history.
    public func balanceCheck(part: Int, of parts: Int) -> BalanceCheck {
        precondition(parts >= 1 && (0..<parts).contains(part))
        let mine = BalancePartition(part: part, of: parts)
        var check = BalanceCheck()
        var history = HistoryTotals(capacity: accounts.count / parts + archived.users.count / parts)
        // Archived transactions count through their totals (retention).
        for (user, totals) in archived.users {
            var user = user.value
            user.withUTF8 { utf8 in
                guard mine.holds(utf8) else { return }
                history.add(
                    HistoryTotals.Sums(earned: totals.earned, spent: totals.spent, committed: totals.committed, changes: totals.transactions),
                    to: utf8)
            }
        }

        // Numbers and user ids only: the other strings play no part in these rules.
        transactions.forEachPacked(where: mine.holds) { id, tx, userID in
            if id >= nextTransactionID {
                check.violations.append("transaction \(id) is not below next id \(nextTransactionID)")
            }
            if tx.amount <= 0 { check.violations.append("transaction \(id) has amount \(tx.amount)") }
            let available = Int128(tx.balanceAfter) - Int128(tx.balanceBefore)
            let committed = Int128(tx.committedAfter) - Int128(tx.committedBefore)
            let amount = Int128(tx.amount)
            // What the type moves (the one set of rules: reconciliation and retention use it too).
            let expected = Self.movement(type: tx.type, amount: tx.amount, committedBefore: tx.committedBefore, committedAfter: tx.committedAfter)
            if available != expected.available || committed != expected.committed || (tx.type == .win && (committed >= 0 || -committed > amount)) {
                check.violations.append(
                    "transaction \(id) (\(tx.type)): available \(tx.balanceBefore) -> \(tx.balanceAfter), committed \(tx.committedBefore) -> \(tx.committedAfter), amount \(tx.amount)")
            }
            // Beyond Int64, a movement is itself a broken rule (a valid one is a balance's change).
            guard let earned = Int64(exactly: expected.earned), let spent = Int64(exactly: expected.spent), let moved = Int64(exactly: committed) else {
                check.violations.append("transaction \(id) moves more than a balance can hold")
                return
            }
            history.add(HistoryTotals.Sums(earned: earned, spent: spent, committed: moved, changes: 1), to: userID)
        }
        for user in history.overflowed.sorted() {
            check.violations.append("\(user): the sums of their history overflow")
        }

        var usersWithHistory = 0
        for (user, a) in accounts {
            var name = user.value
            guard let found = name.withUTF8({ utf8 in mine.holds(utf8) ? .some(history.claim(utf8)) : nil }) else { continue }
            if a.available < 0 || a.committed < 0 || a.totalEarned < 0 || a.totalSpent < 0 {
                check.violations.append("\(user): negative field in \(a)")
            }
            if Int128(a.available) + Int128(a.committed) != Int128(a.totalEarned) - Int128(a.totalSpent) {
                check.violations.append(
                    "\(user): available \(a.available) + committed \(a.committed) != earned \(a.totalEarned) - spent \(a.totalSpent)")
            }
            if found != nil { usersWithHistory += 1 }
            let fromHistory = found ?? HistoryTotals.Sums()
            if a.totalEarned != fromHistory.earned {
                check.violations.append("\(user): total earned \(a.totalEarned) != credits in history \(fromHistory.earned)")
            }
            if a.totalSpent != fromHistory.spent {
                check.violations.append("\(user): total spent \(a.totalSpent) != spends in history \(fromHistory.spent)")
            }
            if a.committed != fromHistory.committed {
                check.violations.append("\(user): committed \(a.committed) != commitments in history \(fromHistory.committed)")
            }
            if a.version != fromHistory.changes {
                check.violations.append("\(user): version \(a.version) != transactions in history \(fromHistory.changes)")
            }
            if a.updatedAt < a.createdAt { check.violations.append("\(user): updated before created") }
            check.userSum += Int128(a.available) + Int128(a.committed)
        }
        // Every user in history has an account.
        if usersWithHistory != history.count {
            for user in history.unclaimed() {
                check.violations.append("history has transactions of \(user), who has no account")
            }
        }
        return check
    }

    /// The balance violations of every part, and the rules that span them (the count of
    /// transactions, the double entry). `parts` must hold each part of one split once.
    public func balanceViolations(combining parts: [BalanceCheck]) -> [String] {
        var violations: [String] = []
        if Int128(transactions.count) + Int128(archived.count) != Int128(nextTransactionID) - 1 {
            violations.append("\(transactions.count) transactions in memory and \(archived.count) archived, but next id is \(nextTransactionID)")
        }
        var userSum: Int128 = 0
        for part in parts {
            violations += part.violations
            userSum += part.userSum
        }
        if userSum + Int128(mint) + Int128(burn) + Int128(house) != 0 {
            violations.append("double entry: users \(userSum) + mint \(mint) + burn \(burn) + house \(house) != 0")
        }
        if mint > 0 || mint == Int64.min { violations.append("mint is out of range: \(mint)") }
        if burn < 0 { violations.append("burn is negative: \(burn)") }
        return violations
    }

    /// The rules of everything else: idempotency records, usage, purchases, predictions,
    /// memberships and the audit log.
    public func recordViolations() -> [String] {
        var violations: [String] = []
        for (key, record) in idempotency.records {
            if ExactString(record.command.idempotencyKey) != key {
                violations.append("idempotency record '\(key)' holds a command with key '\(record.command.idempotencyKey)'")
            }
            // Ledger.apply saturates the expiry at Int64.max, so a command stamped Int64.max
            // itself gets a record that expires as it is seen; no later command can exist.
            if record.expiresAt <= record.firstSeenAt && record.expiresAt != .max {
                violations.append("idempotency record '\(key)' expires before it was seen")
            }
            if case .accepted(let receipt) = record.outcome, let held = transactions[receipt.transaction.id], held != receipt.transaction {
                violations.append("idempotency record '\(key)' answers transaction \(receipt.transaction.id), which differs from the one history holds")
            }
        }
        violations += usage.invariantViolations()
        violations += purchaseViolations()
        violations += predictionViolations()
        violations += membershipViolations()
        violations += auditViolations()
        return violations
    }
}

/// Which users a part of the balance check takes: by the last byte and the length of their
/// id's UTF-8, which costs no hashing and spreads numbered and random ids evenly. Any split is
/// correct; an uneven one is only slower.
struct BalancePartition {
    let part: Int
    let parts: Int

    init(part: Int, of parts: Int) {
        self.part = part
        self.parts = parts
    }

    func holds(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        parts == 1 || (Int(utf8.last ?? 0) &+ utf8.count) % parts == part
    }

    func holds(_ user: String) -> Bool {
        guard parts > 1 else { return true }
        var user = user
        return user.withUTF8 { holds($0) }
    }
}
