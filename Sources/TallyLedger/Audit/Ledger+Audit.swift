/// The audit log: every mutation attempt that arrives with an origin gets one entry, in the same
/// command as the change it describes, so both are journaled together or not at all.
extension Ledger {
    /// Appends the entry for `command`'s attempt, which ended in `outcome`.
    mutating func audit(
        _ command: Command, _ outcome: Outcome, replayed: Bool, transactionIDs: Range<UInt64>, origin: AuditOrigin,
        at now: Timestamp
    ) {
        let (code, reason, note) = outcome.auditStatus
        let entry = AuditEntry(
            id: nextAuditID, at: now, origin: origin, userID: outcome.userID ?? command.userID, code: code, reason: reason,
            note: note, replayed: replayed, transactions: .span(transactionIDs))
        auditLog[entry.id] = entry
        nextAuditID += 1
    }

    /// Drops the entries up to `through` (never past the newest) from memory; the archive holds
    /// them. Returns how many went.
    mutating func trimAudit(through: UInt64) -> Int {
        let last = min(through, nextAuditID - 1)
        guard last >= firstAuditID else { return 0 }
        let dropped = auditLog.removeAll(through: last)
        firstAuditID = last + 1
        return dropped
    }

    /// Audit entries newest first that pass `filter`, starting below `beforeID` (0: the newest).
    public func auditEntries(_ filter: AuditFilter, beforeID: UInt64 = 0, limit: Int) -> [AuditEntry] {
        var found: [AuditEntry] = []
        let start = beforeID == 0 ? nextAuditID : min(beforeID, nextAuditID)
        // The log is dense in ids (an entry per id, none removed while in memory above the
        // trimmed part), so walking ids down is walking time down.
        var id = start
        while id > firstAuditID, found.count < limit {
            id -= 1
            guard let entry = auditLog[id] else { continue }
            if filter.since != 0 && entry.at < filter.since { break }
            if filter.matches(entry) { found.append(entry) }
        }
        return found
    }
}

/// Which audit entries an admin asks for.
public struct AuditFilter: Equatable, Sendable {
    public enum Status: Sendable { case any, accepted, refused }

    public var userID: String?
    public var status: Status
    /// Only this reason ("" any).
    public var reason: String
    /// since ≤ at < until; 0: no bound.
    public var since: Timestamp
    public var until: Timestamp

    public init(userID: String? = nil, status: Status = .any, reason: String = "", since: Timestamp = 0, until: Timestamp = 0) {
        self.userID = userID
        self.status = status
        self.reason = reason
        self.since = since
        self.until = until
    }

    public func matches(_ entry: AuditEntry) -> Bool {
        if let userID, !same(userID, entry.userID) { return false }
        switch status {
        case .any: break
        case .accepted: if !entry.accepted { return false }
        case .refused: if entry.accepted { return false }
        }
        if !reason.isEmpty && !same(reason, entry.reason) { return false }
        if until != 0 && entry.at >= until { return false }
        return since == 0 || entry.at >= since
    }
}

extension Outcome {
    /// gRPC code, reason and what to write the message from, for the audit log. The common
    /// cases keep numbers (the text is made when read); the rare ones write their text now.
    var auditStatus: (code: Int32, reason: String, note: AuditNote) {
        switch self {
        case .refused(let refusal): (Int32(refusal.code.rawValue), refusal.reason, .text(refusal.message))
        case .accepted(let receipt):
            (0, "", .transaction(
                receipt.transaction.type, amount: receipt.transaction.amount, before: receipt.transaction.balanceBefore,
                after: receipt.transaction.balanceAfter))
        case .usage(let receipt):
            (0, "", .usage(used: receipt.status.used, reserved: receipt.status.reserved, limit: receipt.status.limit, date: receipt.status.date))
        case .usageLimits: (0, "", .text("daily limits changed"))
        case .expired(let released): (0, "", .text("released \(released.count) expired reservation(s)"))
        case .package(let package): (0, "", .text("package \(package.id) saved, \(package.active ? "active" : "inactive")"))
        case .purchase(let receipt): (0, "", .text("purchase \(receipt.purchase.id) (\(receipt.purchase.paymentID)): \(receipt.purchase.status)"))
        case .expiredPurchases(let failed): (0, "", .text("failed \(failed.count) purchase(s) pending too long"))
        case .commitment(let receipt): (0, "", .text("commitment \(receipt.commitment.id): \(receipt.commitment.status), stake \(receipt.commitment.stake)"))
        case .predictionSettled(let summary, _):
            (0, "", .text("prediction \(summary.predictionID) \(summary.status): \(summary.winners) won, \(summary.losers) lost, \(summary.refunded) refunded"))
        case .prediction(let prediction): (0, "", .text("prediction \(prediction.id) closes at \(prediction.closesAt.map(String.init) ?? "no time")"))
        case .membership(let status): (0, "", .text("tier \(status.tier)\(status.membership?.expiresAt.map { " until \($0)" } ?? "")"))
        case .auditTrimmed(let count): (0, "", .text("\(count) archived audit entries dropped from memory"))
        case .archivedTransactions(let count): (0, "", .text("\(count) archived transactions dropped from memory"))
        case .archivedCommitments(let count): (0, "", .text("\(count) archived commitments dropped from memory"))
        case .reconciled(let report):
            (0, "", .text("reconciled \(report.accountsChecked) accounts: \(report.mismatches.count) mismatch(es), \(report.repairs.count) repair transaction(s)"))
        case .actionPrice(let price): (0, "", .text("\(price.action) costs \(price.costs.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", "))"))
        }
    }

    /// The user the outcome concerns, when it names one.
    var userID: String? {
        switch self {
        case .accepted(let receipt): receipt.balance.userID
        case .usage(let receipt): receipt.status.userID
        case .purchase(let receipt): receipt.purchase.userID
        case .commitment(let receipt): receipt.commitment.userID
        case .membership(let status): status.userID
        default: nil
        }
    }
}

extension Command {
    /// The user a command names in its request, if any.
    public var userID: String {
        switch self {
        case .credit(let c): c.userID
        case .spend(let s): s.userID
        case .consume(let c): c.userID
        case .reserve(let r): r.userID
        case .startPurchase(let s): s.userID
        case .commit(let c): c.userID
        case .spendAction(let s): s.userID
        case .setMembership(let s): s.userID
        case .refusedAttempt(let r): r.userID
        case .changeUsage(.userLimit(let user, _)), .changeUsage(.userTier(let user, _)), .changeUsage(.userShadow(let user, _)): user
        case .settle, .release, .changeUsage, .expireReservations, .savePackage, .deactivatePackage, .settlePurchase,
            .expirePurchases, .cancelCommitment, .settlePrediction, .closePrediction, .setActionPrice, .reconcile, .trimAudit,
            .archiveTransactions, .archiveCommitments:
            ""
        }
    }
}
