import TallyLedger
import TallyWire

// Conversions between audit entries and their wire message (tally.v1.Audit). The store reuses
// it for snapshots.

extension Tally_V1_AuditEntry {
    public init(_ entry: AuditEntry) {
        self.init()
        id = entry.id
        atUs = entry.at
        uid = entry.origin.uid
        gid = entry.origin.gid
        role = entry.origin.role
        method = entry.origin.method
        userID = entry.userID
        code = Tally_V1_Code(rawValue: Int(entry.code)) ?? .unknown
        reason = entry.reason
        message = entry.message
        replayed = entry.replayed
        transactionIds = entry.transactionIDs
    }

    public var ledgerValue: AuditEntry {
        AuditEntry(
            id: id, at: atUs, origin: AuditOrigin(uid: uid, gid: gid, role: role, method: method), userID: userID,
            code: Int32(code.rawValue), reason: reason, message: message, replayed: replayed, transactionIDs: transactionIds)
    }
}

extension Tally_V1_ReconcileResponse {
    public init(_ report: Reconciliation) {
        self.init()
        accountsChecked = Int64(report.accountsChecked)
        transactionsChecked = Int64(report.transactionsChecked)
        mismatches = report.mismatches.map { mismatch in
            Tally_V1_BalanceMismatch.with {
                $0.account = mismatch.account
                $0.field = mismatch.field
                $0.stored = mismatch.stored
                $0.fromHistory = mismatch.fromHistory
            }
        }
        repairs = report.repairs.map(Tally_V1_Transaction.init)
        unrepairable = report.unrepairable
    }
}
