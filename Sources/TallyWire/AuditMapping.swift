import TallyLedger

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
