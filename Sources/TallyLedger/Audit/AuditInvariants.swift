/// The rules the audit log obeys, checked from scratch with the Ledger's.
extension Ledger {
    func auditViolations() -> [String] {
        var violations: [String] = []
        if firstAuditID < 1 || firstAuditID > nextAuditID { violations.append("audit ids kept from \(firstAuditID), next \(nextAuditID)") }
        // Every id from firstAuditID up to nextAuditID is held (trims drop only a prefix), so the
        // log is walked by id, with no sort.
        if Int128(auditLog.count) != Int128(nextAuditID) - Int128(firstAuditID) {
            violations.append("\(auditLog.count) audit entries held, but ids run from \(firstAuditID) to \(nextAuditID)")
            return violations
        }
        var previous: Timestamp = .min
        for id in firstAuditID..<max(firstAuditID, nextAuditID) {
            guard let entry = auditLog[id] else {
                violations.append("audit entry \(id) is missing")
                continue
            }
            if id != entry.id { violations.append("audit entry stored under \(id) has id \(entry.id)") }
            if entry.at < previous || entry.at > lastTimestamp { violations.append("audit entry \(id) is out of time order") }
            previous = entry.at
            if (entry.code == 0) != entry.reason.isEmpty { violations.append("audit entry \(id) has code \(entry.code) and reason '\(entry.reason)'") }
        }
        return violations
    }
}
