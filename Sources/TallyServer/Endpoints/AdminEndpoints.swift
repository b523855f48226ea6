import TallyLedger
import TallyWire

/// tally.v1.Admin: snapshots, backups, health, statistics, reconciliation.
enum AdminEndpoints {
    static let all: [Endpoint] = [
        Endpoint(.snapshot, .admin, request: Tally_V1_SnapshotRequest.self) { _, _ in .query(.snapshot) },
        Endpoint(.backup, .admin, request: Tally_V1_BackupRequest.self) { body, _ in
            if let problem = BackupPath.problem(body.path) {
                return .invalid(reason: "BACKUP_PATH_INVALID", problem, details: ["path": body.path])
            }
            return .query(.backup(path: body.path))
        },
        Endpoint(.health, .read, request: Tally_V1_HealthRequest.self) { body, _ in
            .query(.health(checkInvariants: body.checkInvariants))
        },
        Endpoint(.stats, .admin, request: Tally_V1_StatsRequest.self) { body, _ in
            guard body.days <= 366 else {
                return .invalid(reason: "DAYS_OUT_OF_RANGE", "days must be at most 366 (0 for 30), got \(body.days)", details: ["field": "days"])
            }
            return .query(.stats(StatsQuery(days: body.days == 0 ? 30 : Int(body.days))))
        },
        // A report reads a copy off the Writer; a repair is a journaled command.
        Endpoint(.reconcile, .admin, mutates: true, request: Tally_V1_ReconcileRequest.self) { body, _ in
            body.repair ? .writer(.apply(.reconcile(repair: true))) : .query(.reconcile)
        } answer: { id, result in
            guard case .reconciled(let report)? = Responses.applied(result)?.outcome else { return nil }
            return .ok(callID: id, payload: Tally_V1_ReconcileResponse(report))
        },
    ]
}
