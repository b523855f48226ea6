import Dispatch
import Foundation
import Glibc
import NIOCore
import TallyLedger
import TallyStore
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
    let dataDirectory: String

    func report(checkInvariants: Bool) -> EventLoopFuture<Tally_V1_HealthResponse> {
        let writer = self.writer
        let state = writer.loop.submit {
            writer.assumeIsolated { ($0.durableSequence, $0.counts, $0.mutationRefusal, $0.usageRefusals) }
        }
        let snapshot = snapshotter.lastSnapshot()
        let connections = self.connections.count
        let queued = queue.count
        let limit = queue.limit
        let startedAt = self.startedAt
        let dataDirectory = self.dataDirectory
        return state.and(snapshot).flatMap { state, snapshot in
            let (sequence, counts, refusal, usageRefusals) = state
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
                $0.accounts = Int64(counts.accounts)
                $0.transactions = Int64(counts.transactions)
                $0.auditEntries = Int64(counts.auditEntries)
                $0.usageRefusals = usageRefusals
                let journal = Self.journalFiles(in: dataDirectory)
                $0.journalSegments = Int64(journal.count)
                $0.journalBytes = journal.bytes
            }
            guard checkInvariants else { return writer.loop.makeSucceededFuture(report) }
            // O(ledger) on a durable copy, off every event loop.
            return writer.durableCopy().flatMap { (_, ledger) in
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

    /// The journal's segment files and their total size (a directory listing and a stat each:
    /// no reads, nothing that waits for the disk's queue of writes).
    static func journalFiles(in dataDirectory: String) -> (count: Int, bytes: Int64) {
        let directory = JournalSegment.directory(in: dataDirectory)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return (0, 0) }
        var count = 0
        var bytes: Int64 = 0
        for name in names where JournalSegment.firstSequence(ofFileNamed: name) != nil {
            var info = stat()
            guard stat(directory + "/" + name, &info) == 0 else { continue }
            count += 1
            bytes += Int64(info.st_size)
        }
        return (count, bytes)
    }
}
