/// Retention of transaction history: the newest transactions of each user stay in memory, older
/// ones go to archive files (written by tallyd outside the Ledger, before this command drops
/// them), and what they moved stays counted in `archived`.
extension Ledger {
    /// The transactions of users holding more than `keepPerUser` in memory, beyond their newest
    /// `keepPerUser`, oldest first, at most `limit` of them.
    public func archivable(keepPerUser: Int, limit: Int) -> [Transaction] {
        guard keepPerUser >= 0 else { return [] }
        var byUser: [ExactString: [UInt64]] = [:]
        for (id, tx) in transactions { byUser[ExactString(tx.userID), default: []].append(id) }
        var ids: [UInt64] = []
        for var userIDs in byUser.values where userIDs.count > keepPerUser {
            userIDs.sort()
            ids += userIDs.prefix(userIDs.count - keepPerUser)
        }
        ids.sort()
        return ids.prefix(limit).compactMap { transactions[$0] }
    }

    /// Commitments of settled predictions, settled before `before`, oldest id first, at most `limit`.
    public func archivableCommitments(settledBefore before: Timestamp, limit: Int) -> [Commitment] {
        var due: [Commitment] = []
        for commitment in commitments.values where commitment.status != .active && commitment.settledAt < before {
            guard let prediction = predictions[ExactString(commitment.predictionID)], prediction.status != .open else { continue }
            due.append(commitment)
        }
        return Array(due.sorted { $0.id < $1.id }.prefix(limit))
    }

    mutating func archive(_ command: ArchiveCommitments) -> Outcome {
        guard command.batch == archived.lastCommitmentBatch + 1 else {
            return .refused(Refusal(
                code: .failedPrecondition, reason: "ARCHIVE_BATCH_OUT_OF_ORDER",
                message: "commitment archive batch \(command.batch) does not follow batch \(archived.lastCommitmentBatch)",
                details: ["batch": String(command.batch), "last_batch": String(archived.lastCommitmentBatch)]))
        }
        var moved = 0
        for id in command.ids {
            guard let commitment = commitments[id], commitment.status != .active else { continue }
            commitments[id] = nil
            let key = ExactString(commitment.predictionID)
            if var prediction = predictions[key] {
                prediction.commitmentIDs.removeAll { $0 == id }
                predictions[key] = prediction
            }
            archived.commitments += 1
            moved += 1
        }
        archived.lastCommitmentBatch = command.batch
        return .archivedCommitments(moved)
    }

    mutating func archive(_ command: ArchiveTransactions) -> Outcome {
        guard command.batch == archived.lastBatch + 1 else {
            return .refused(Refusal(
                code: .failedPrecondition, reason: "ARCHIVE_BATCH_OUT_OF_ORDER",
                message: "archive batch \(command.batch) does not follow batch \(archived.lastBatch)",
                details: ["batch": String(command.batch), "last_batch": String(archived.lastBatch)]))
        }
        var moved = 0
        for id in command.ids {
            guard let tx = transactions.removeValue(forKey: id) else { continue }
            fold(tx)
            moved += 1
        }
        archived.lastBatch = command.batch
        return .archivedTransactions(moved)
    }

    /// Adds `tx`'s movement to the archived totals (each total stays within Int64: it is a part
    /// of an account's or system account's history, which the invariants keep in range).
    private mutating func fold(_ tx: Transaction) {
        let movement = Self.movement(of: tx)
        var totals = archived.users[ExactString(tx.userID)] ?? ArchivedHistory.Totals()
        totals.available = Int64(clamping: Int128(totals.available) + movement.available)
        totals.committed = Int64(clamping: Int128(totals.committed) + movement.committed)
        totals.earned = Int64(clamping: Int128(totals.earned) + movement.earned)
        totals.spent = Int64(clamping: Int128(totals.spent) + movement.spent)
        totals.transactions += 1
        archived.users[ExactString(tx.userID)] = totals
        archived.mint = Int64(clamping: Int128(archived.mint) + movement.mint)
        archived.burn = Int64(clamping: Int128(archived.burn) + movement.burn)
        archived.house = Int64(clamping: Int128(archived.house) + movement.house)
        var volume = archived.volume[tx.type.rawValue] ?? ArchivedHistory.Volume()
        volume.transactions += 1
        volume.tokens = volume.tokens.addingReportingOverflow(tx.amount).overflow ? .max : volume.tokens + tx.amount
        archived.volume[tx.type.rawValue] = volume
        archived.count += 1
    }

    /// What one transaction moves, per account: the rules of Invariants and Reconciliation.
    static func movement(of tx: Transaction) -> (
        available: Int128, committed: Int128, earned: Int128, spent: Int128, mint: Int128, burn: Int128, house: Int128
    ) {
        movement(type: tx.type, amount: tx.amount, committedBefore: tx.committedBefore, committedAfter: tx.committedAfter)
    }

    /// The same, from the numbers alone (the invariant check reads them packed).
    static func movement(type: TransactionType, amount: Int64, committedBefore: Int64, committedAfter: Int64) -> (
        available: Int128, committed: Int128, earned: Int128, spent: Int128, mint: Int128, burn: Int128, house: Int128
    ) {
        let amount = Int128(amount)
        let committed = Int128(committedAfter) - Int128(committedBefore)
        switch type {
        case .purchase, .grant, .refund, .adjustment: return (amount, 0, amount, 0, -amount, 0, 0)
        case .spend: return (-amount, 0, 0, amount, 0, amount, 0)
        case .commit: return (-amount, amount, 0, 0, 0, 0, 0)
        case .commitmentRefund: return (amount, -amount, 0, 0, 0, 0, 0)
        case .loss: return (0, -amount, 0, amount, 0, 0, amount)
        // The stake leaves committed; the winning (stake included) arrives in available.
        case .win: return (amount, committed, amount + committed, 0, 0, 0, -(amount + committed))
        }
    }
}
