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

    /// The report, its future on `loop` (the caller's). Nothing here waits for the Writer's
    /// loop: its part was published after its last turn (`Writer.health`), so a probe is
    /// answered in the same turn of the caller's loop however many calls are queued.
    func report(checkInvariants: Bool, digest: Bool = false, on loop: any EventLoop) -> EventLoopFuture<Tally_V1_HealthResponse> {
        let writer = self.writer
        let state = writer.health.withLock { $0 }
        let snapshot = snapshotter.lastSnapshot()
        let now = NIODeadline.now()
        let report = Tally_V1_HealthResponse.with {
            $0.acceptingMutations = state.mutationRefusal == nil
            $0.refusalReason = state.mutationRefusal ?? ""
            $0.uptimeMs = (now - startedAt).nanoseconds / 1_000_000
            $0.connections = Int64(connections.count)
            $0.queuedCalls = Int64(queue.count)
            $0.queuedCallsLimit = Int64(queue.limit)
            $0.durableSequence = state.durableSequence
            $0.snapshotSequence = snapshot.sequence
            $0.snapshotAgeMs = (now - snapshot.at).nanoseconds / 1_000_000
            $0.accounts = Int64(state.counts.accounts)
            $0.transactions = Int64(state.counts.transactions)
            $0.auditEntries = Int64(state.counts.auditEntries)
            $0.usageRefusals = state.usageRefusals
            let journal = Self.journalFiles(in: dataDirectory)
            $0.journalSegments = Int64(journal.count)
            $0.journalBytes = journal.bytes
            if let log = writer.log {
                $0.logNode = log.node
                $0.logHead = max(log.head, state.durableSequence)
            }
        }
        guard checkInvariants || digest else { return loop.makeSucceededFuture(report) }
        // O(ledger) on a durable copy, off every event loop.
        return writer.durableCopy().flatMap { (sequence, ledger) in
            let promise = writer.loop.makePromise(of: Tally_V1_HealthResponse.self)
            DispatchQueue.global().async {
                var checked = report
                if checkInvariants {
                    checked.invariantsChecked = true
                    checked.invariantViolations = ledger.invariantViolations()
                }
                if digest {
                    do {
                        checked.stateDigest = try StateDigest.sha256(ledger, sequence: sequence)
                        checked.digestSequence = sequence
                    } catch {
                        return promise.fail(error)
                    }
                }
                promise.succeed(checked)
            }
            return promise.futureResult
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
