import Synchronization
import TallyLedger

/// `--fsync never`: no journal. A command is durable once a snapshot holding it is; a crash
/// loses what the last snapshot did not hold.
///
/// Segments left by an earlier run with a journal are removed once a kept snapshot covers every
/// record in them (they hold nothing past the sequence tallyd started from), so switching to
/// `never` does not leave them on disk for good.
public final class SnapshotsOnly: Journal {
    private struct Leftover {
        var segments: [UInt64]
        let lastSequence: UInt64
    }

    /// The journal directory, nil when there is none (nothing left to remove).
    private let directory: StoreDirectory?
    private let io: any JournalIO
    private let leftover: Mutex<Leftover>

    /// `segments`: first sequences of the segments recovery found; `lastSequence`: the last
    /// record tallyd recovered, which no segment goes past.
    public init(
        dataDirectory: StoreDirectory? = nil, segments: [UInt64] = [], lastSequence: UInt64 = 0, io: any JournalIO = PosixJournalIO()
    ) {
        // (Unopenable, the leftovers just stay: recovery skips what a snapshot covers.)
        directory = segments.isEmpty ? nil : (try? dataDirectory?.subdirectory(JournalSegment.directoryName, create: false)) ?? nil
        self.io = io
        leftover = Mutex(Leftover(segments: segments, lastSequence: lastSequence))
    }

    public func append(_ records: [JournalRecord], onDurable: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        onDurable(.success(()))
    }

    public func rotate() {}

    public func removeSegments(coveredThrough sequence: UInt64) {
        let doomed: [UInt64] = leftover.withLock { leftover in
            guard sequence >= leftover.lastSequence else { return [] }
            defer { leftover.segments.removeAll() }
            return leftover.segments
        }
        guard !doomed.isEmpty, let directory else { return }
        var kept: [UInt64] = []
        for first in doomed {
            do {
                try io.removeFile(JournalSegment.fileName(firstSequence: first), in: directory)
            } catch {
                kept.append(first)  // harmless: recovery skips what a snapshot covers; retried next time
            }
        }
        if kept.count < doomed.count { try? io.syncDirectory(directory) }
        if !kept.isEmpty { leftover.withLock { $0.segments = kept } }
    }

    public func sync() {}
    public var bytesAppended: Int { 0 }
    public var recordsAppended: Int { 0 }
    public var syncs: Int { 0 }

    public func close(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        done(.success(()))
    }

    /// Never failed: appends always succeed, so there is nothing to reopen.
    public func reopen(nextSequence: UInt64, existingSegments: [UInt64], _ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        done(.success(()))
    }
}
