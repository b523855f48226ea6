import Dispatch
import NIOCore
import TallyLedger
import TallyWire

/// Answers Admin/Health from what each part of tallyd knows, without waiting for the journal:
/// the Writer's loop answers at once even while its batches wait for an fsync, so health works
/// while tallyd is overloaded or its disk has stalled.
struct Health: Sendable {
    let writer: Writer
    let snapshotter: Snapshotter
    let connections: Connections
    let queue: WriterQueue
    let startedAt: NIODeadline

    func report(checkInvariants: Bool) -> EventLoopFuture<Tally_V1_HealthResponse> {
        let writer = self.writer
        let state = writer.loop.submit {
            writer.assumeIsolated { ($0.durableState(), $0.mutationRefusal) }
        }
        let snapshot = snapshotter.lastSnapshot()
        let connections = self.connections.count
        let queued = queue.count
        let limit = queue.limit
        let startedAt = self.startedAt
        return state.and(snapshot).flatMap { state, snapshot in
            let ((sequence, ledger), refusal) = state
            let now = NIODeadline.now()
            let report = Tally_V1_HealthResponse.with {
                $0.acceptingMutations = refusal == nil
                $0.refusalReason = refusal ?? ""
                $0.uptimeMs = (now - startedAt).nanoseconds / 1_000_000
                $0.connections = Int64(connections)
                $0.queuedCalls = Int64(queued)
                $0.queuedCallsLimit = Int64(limit)
                $0.durableSequence = sequence
                $0.snapshotSequence = snapshot.sequence
                $0.snapshotAgeMs = (now - snapshot.at).nanoseconds / 1_000_000
                $0.accounts = Int64(ledger.accounts.count)
                $0.transactions = Int64(ledger.transactions.count)
            }
            guard checkInvariants else { return writer.loop.makeSucceededFuture(report) }
            // O(ledger) on a copy, off every event loop.
            let promise = writer.loop.makePromise(of: Tally_V1_HealthResponse.self)
            DispatchQueue.global().async {
                var checked = report
                checked.invariantsChecked = true
                checked.invariantViolations = ledger.invariantViolations()
                promise.succeed(checked)
            }
            return promise.futureResult
        }
    }
}
