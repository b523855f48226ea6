import NIOCore
import TallyLedger
import TallyStore
import TallyWire

/// Audit/List: entries newest first, filtered by user, status, reason and time, paged by id
/// (the cursor is "ids below this", so pages stay right while new attempts arrive). Runs on the
/// durable state's O(1) copy off the Writer.
struct AuditQuery: Sendable {
    var filter: AuditFilter
    var limit: Int
    var beforeID: UInt64

    static func decode(_ body: Tally_V1_ListAuditRequest) -> Result<AuditQuery, Refusal> {
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
        let limit: Int
        switch PageLimit.decode(body.limit) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let value): limit = value
        }
        let filter = AuditFilter(
            userID: body.userID.isEmpty ? nil : body.userID, status: status, reason: body.reason, since: body.sinceUs,
            until: body.untilUs)
        return .success(AuditQuery(filter: filter, limit: limit, beforeID: body.beforeID))
    }

    /// The page from memory and, past the entries still in memory, from the archive
    /// (`DATA/archive/audit.jsonl`, read by `archived` with the filter, below an id, at most n).
    func run(
        on ledger: Ledger, archived: (_ below: UInt64, _ limit: Int) throws -> [AuditEntry]
    ) throws -> Tally_V1_ListAuditResponse {
        // One more than asked for: whether there is a next page.
        var found = ledger.auditEntries(filter, beforeID: beforeID, limit: limit + 1)
        // Past the oldest entry still in memory (the archive's walk stops at `since` itself).
        if found.count <= limit, ledger.firstAuditID > 1 {
            let below = min(beforeID == 0 ? ledger.firstAuditID : beforeID, ledger.firstAuditID)
            found += try archived(below, limit + 1 - found.count)
        }
        let page = found.prefix(limit)
        return Tally_V1_ListAuditResponse.with {
            $0.entries = page.map(Tally_V1_AuditEntry.init)
            $0.nextBeforeID = found.count > limit ? (page.last?.id ?? 0) : 0
        }
    }

    func answer(callID: UInt64, writer: Writer, archive: Snapshotter) -> EventLoopFuture<Tally_V1_Response> {
        let (directory, directoryID, filter) = (archive.directory, archive.directoryID, filter)
        return writer.scanDurable(callID: callID, failing: "ARCHIVE_UNREADABLE") { ledger, _ in
            try self.run(on: ledger) { below, limit in
                try AuditArchive.entries(
                    in: directory, directoryID: directoryID, below: below, since: filter.since, limit: limit, matching: filter.matches)
            }
        }
    }
}
