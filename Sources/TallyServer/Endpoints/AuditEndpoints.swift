import TallyLedger
import TallyCodec
import TallyStore
import TallyWire

/// tally.v1.Audit: every mutation attempt, accepted or refused, and who made it.
enum AuditEndpoints {
    static let all: [Endpoint] = [
        Endpoint(.listAudit, .admin, request: Tally_V1_ListAuditRequest.self) { body, _ in
            let filter: AuditFilter, limit: Int
            switch auditFilter(body) {
            case .failure(let refusal): return .invalid(refusal)
            case .success(let read): (filter, limit) = read
            }
            return .offWriter { id, parts, _ in
                let (directory, directoryID) = (parts.snapshotter.directory, parts.snapshotter.directoryID)
                return parts.writer.scanDurable(callID: id, failing: "ARCHIVE_UNREADABLE") { ledger, _ in
                    // One more than asked for: whether there is a next page.
                    var found = ledger.auditEntries(filter, beforeID: body.beforeID, limit: limit + 1)
                    // Past the oldest entry still in memory, DATA/archive/audit.jsonl (its walk
                    // stops at `since` itself).
                    if found.count <= limit, ledger.firstAuditID > 1 {
                        let below = min(body.beforeID == 0 ? ledger.firstAuditID : body.beforeID, ledger.firstAuditID)
                        found += try AuditArchive.entries(
                            in: directory, directoryID: directoryID, below: below, since: filter.since, limit: limit + 1 - found.count,
                            matching: filter.matches)
                    }
                    let page = PageLimit.page(found, limit: limit, id: \.id)
                    return Tally_V1_ListAuditResponse.with {
                        $0.entries = page.items.map(Tally_V1_AuditEntry.init)
                        $0.nextBeforeID = page.nextBeforeID
                    }
                }
            }
        },
    ]

    /// Entries newest first, filtered by user, status, reason and time, paged by id (the cursor
    /// is "ids below this", so pages stay right while new attempts arrive).
    private static func auditFilter(_ body: Tally_V1_ListAuditRequest) -> Result<(AuditFilter, limit: Int), Refusal> {
        if !body.userID.isEmpty, let invalid = Validation.userID(body.userID) { return .failure(invalid) }
        let status: AuditFilter.Status
        switch body.status {
        case .any: status = .any
        case .accepted: status = .accepted
        case .refused: status = .refused
        case .UNRECOGNIZED(let value):
            return .failure(Refusal(
                code: .invalidArgument, reason: "STATUS_INVALID", message: "unknown audit status \(value)", details: ["field": "status"]))
        }
        return PageLimit.decode(body.limit).map { limit in
            (AuditFilter(
                userID: body.userID.isEmpty ? nil : body.userID, status: status, reason: body.reason, since: body.sinceUs,
                until: body.untilUs), limit)
        }
    }
}
