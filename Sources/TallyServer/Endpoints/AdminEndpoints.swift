import NIOCore
import TallyLedger
import TallyCodec
import TallyWire

/// tally.v1.Admin: snapshots, backups, health, statistics, reconciliation.
enum AdminEndpoints {
    static let all: [Endpoint] = [
        // A stream: the change feed, off the Writer (docs/protocol.md §5.1).
        Endpoint(.changes, .admin, request: Tally_V1_ChangesRequest.self) { body, _ in
            .stream(.changes(after: body.afterSequence))
        },
        Endpoint(.snapshot, .admin, request: Tally_V1_SnapshotRequest.self) { _, _ in
            .offWriter { id, parts, _ in written(id, .snapshot, parts.snapshotter.snapshotNow()) }
        },
        Endpoint(.backup, .admin, request: Tally_V1_BackupRequest.self) { body, _ in
            if let problem = BackupPath.problem(body.path) {
                return .invalid(reason: "BACKUP_PATH_INVALID", problem, details: ["path": body.path])
            }
            return .offWriter { id, parts, _ in written(id, .backup, parts.snapshotter.backup(to: body.path)) }
        },
        Endpoint(.health, .read, request: Tally_V1_HealthRequest.self) { body, _ in
            .offWriter { id, parts, loop in
                parts.health.report(checkInvariants: body.checkInvariants, digest: body.digest, on: loop).map { Responses.ok(callID: id, $0) }
                    .recover { Responses.error(callID: id, .internal, reason: "INTERNAL", "could not build the health report: \($0)") }
            }
        },
        // The same figures as GET /metrics, parsed from the same text.
        Endpoint(.metrics, .read, request: Tally_V1_MetricsRequest.self) { _, _ in
            .offWriter { id, parts, _ in
                parts.metrics.text().map { text in
                    Responses.ok(callID: id, Tally_V1_MetricsResponse.with {
                        $0.samples = PrometheusText.samples(text)
                        $0.uptimeMs = (NIODeadline.now() - parts.health.startedAt).nanoseconds / 1_000_000
                    })
                }
            }
        },
        Endpoint(.stats, .admin, request: Tally_V1_StatsRequest.self) { body, _ in
            guard body.days <= 366 else {
                return .invalid(reason: "DAYS_OUT_OF_RANGE", "days must be at most 366 (0 for 30), got \(body.days)", details: ["field": "days"])
            }
            let days = body.days == 0 ? 30 : Int(body.days)
            return .scan { ledger, now in Tally_V1_StatsResponse(ledger.stats(revenueDays: days, now: now)) }
        },
        // A report reads a copy off the Writer; a repair is a journaled command.
        Endpoint(.reconcile, .admin, mutates: true, request: Tally_V1_ReconcileRequest.self) { body, _ in
            guard body.repair else { return .scan { ledger, _ in Tally_V1_ReconcileResponse(ledger.reconciliation()) } }
            return .writer(.apply(.reconcile(repair: true)))
        } answer: { id, result in
            guard case .reconciled(let report)? = Responses.applied(result)?.outcome else { return nil }
            return .ok(callID: id, payload: Tally_V1_ReconcileResponse(report))
        },
    ]

    /// A snapshot or backup written, or why not.
    private static func written(_ id: UInt64, _ method: Method, _ future: EventLoopFuture<Snapshotter.Written>) -> EventLoopFuture<Tally_V1_Response> {
        future.map { Responses.admin(callID: id, method, .success($0)) }.recover { Responses.admin(callID: id, method, .failure($0)) }
    }
}
