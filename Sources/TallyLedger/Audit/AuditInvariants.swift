/// The rules the audit log obeys, checked from scratch with the Ledger's.
extension Ledger {
    func auditViolations() -> [String] {
        var violations: [String] = []
        if firstAuditID < 1 || firstAuditID > nextAuditID { violations.append("audit ids kept from \(firstAuditID), next \(nextAuditID)") }
        var previous: Timestamp = .min
        for (id, entry) in auditLog.sorted(by: { $0.key < $1.key }) {
            if id != entry.id || id < firstAuditID || id >= nextAuditID {
                violations.append("audit entry stored under \(id) has id \(entry.id) (kept from \(firstAuditID), next \(nextAuditID))")
            }
            if entry.at < previous || entry.at > lastTimestamp { violations.append("audit entry \(id) is out of time order") }
            previous = entry.at
            if (entry.code == 0) != entry.reason.isEmpty { violations.append("audit entry \(id) has code \(entry.code) and reason '\(entry.reason)'") }
        }
        return violations
    }
}
