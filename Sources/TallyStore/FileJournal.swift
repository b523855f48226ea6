import Dispatch
import Synchronization
import TallyLedger

/// The write-ahead journal with group commit.
///
/// `append` only queues (it runs on the Writer's thread and must not block). One journal thread
/// takes everything queued, writes it with one write and makes it durable with one fdatasync,
/// then reports to every waiter. Whatever arrives while that fsync runs is taken together on the
/// next round: one fsync per round, however many connections and batches it carries.
///
/// After the first write or fsync error the journal is failed for good: every queued and later
/// append reports the error. It never retries an fsync (the kernel may have dropped the pages).
public final class FileJournal: Journal, Sendable {
    public enum Mode: Equatable, Sendable {
        /// fdatasync before any answer: nothing acknowledged is lost, even by a power cut.
        case always
        /// Answer once written to the OS; fdatasync on `sync()`: a process crash loses nothing,
        /// a power cut or kernel crash may lose what was answered since the last sync.
        case interval
    }

    private enum Item {
        case records([JournalRecord], @Sendable (Result<Void, any Error>) -> Void)
        case rotate
        case remove(UInt64)
        case sync
        case close(@Sendable (Result<Void, any Error>) -> Void)
        case reopen(nextSequence: UInt64, segments: [UInt64], @Sendable (Result<Void, any Error>) -> Void)
    }

    private struct Queue {
        var items: [Item] = []
        var scheduled = false
    }

    private let queue = Mutex(Queue())
    private let worker: Worker
    private let thread = DispatchQueue(label: "tally.journal")
    private let appended = Atomic<Int>(0)
    private let recordCount = Atomic<Int>(0)
    private let syncCount = Atomic<Int>(0)

    /// One write to the journal file, for the metrics: the records and bytes it carried and,
    /// when it ended in an fdatasync, how long write and sync took together.
    public struct Commit: Sendable {
        public var records: Int
        public var bytes: Int
        public var syncDuration: Duration?
    }

    /// Opens the journal in `dataDirectory/journal` to append records from `nextSequence` on.
    /// `segments` are the existing segments' first sequences (from recovery), oldest first.
    /// New segments name `directoryID` in their headers. Every segment is created, removed and
    /// synced relative to `dataDirectory`'s open descriptor.
    public init(
        dataDirectory: StoreDirectory, directoryID: DirectoryID, nextSequence: UInt64, existingSegments: [UInt64], mode: Mode,
        segmentBytes: Int = 64 << 20, io: any JournalIO = PosixJournalIO(),
        onCommit: (@Sendable (Commit) -> Void)? = nil
    ) throws {
        // Every start begins a new segment at `nextSequence`, which may lie past the end of
        // the old journal when a snapshot holds records the journal lost (--fsync interval).
        let directory = try dataDirectory.subdirectory(JournalSegment.directoryName, create: true)!
        worker = try Worker(
            directory: directory, header: JournalSegment.header(directoryID),
            nextSequence: nextSequence, segments: existingSegments, mode: mode, segmentBytes: segmentBytes, io: io,
            onCommit: onCommit)
    }

    /// The same, for the data directory at `dataDirectory` (tests and tools).
    public convenience init(
        dataDirectory: String, directoryID: DirectoryID, nextSequence: UInt64, existingSegments: [UInt64], mode: Mode,
        segmentBytes: Int = 64 << 20, io: any JournalIO = PosixJournalIO()
    ) throws {
        try self.init(
            dataDirectory: try StoreDirectory(opening: dataDirectory), directoryID: directoryID, nextSequence: nextSequence,
            existingSegments: existingSegments, mode: mode, segmentBytes: segmentBytes, io: io)
    }

    public var bytesAppended: Int { appended.load(ordering: .relaxed) }
    public var recordsAppended: Int { recordCount.load(ordering: .relaxed) }
    public var syncs: Int { syncCount.load(ordering: .relaxed) }

    public func append(_ records: [JournalRecord], onDurable: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        enqueue(.records(records, onDurable))
    }

    public func rotate() { enqueue(.rotate) }
    public func removeSegments(coveredThrough sequence: UInt64) { enqueue(.remove(sequence)) }
    public func sync() { enqueue(.sync) }
    public func close(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void) { enqueue(.close(done)) }

    /// After a failure: starts appending again from `nextSequence` in a new segment, once
    /// recovery has cut the files back to the last durable record (`existingSegments` is what
    /// it left). Fails, and the journal stays failed, if the disk still refuses the new segment.
    public func reopen(
        nextSequence: UInt64, existingSegments: [UInt64], _ done: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        enqueue(.reopen(nextSequence: nextSequence, segments: existingSegments, done))
    }

    private func enqueue(_ item: Item) {
        let start = queue.withLock { queue in
            queue.items.append(item)
            defer { queue.scheduled = true }
            return !queue.scheduled
        }
        if start {
            thread.async { self.drain() }
        }
    }

    /// Runs on the journal thread until the queue is empty.
    private func drain() {
        while true {
            let items: [Item] = queue.withLock { queue in
                let items = queue.items
                queue.items.removeAll(keepingCapacity: true)
                if items.isEmpty { queue.scheduled = false }
                return items
            }
            if items.isEmpty { return }
            let round = worker.process(items)
            appended.add(round.bytes, ordering: .relaxed)
            recordCount.add(round.records, ordering: .relaxed)
            syncCount.add(round.syncs, ordering: .relaxed)
        }
    }

    /// The journal thread's own state: touched only by `drain`, one round at a time.
    private final class Worker: @unchecked Sendable {
        let directory: StoreDirectory
        /// Every segment starts with it: it names the data directory.
        let header: [UInt8]
        let mode: Mode
        let segmentBytes: Int
        let io: any JournalIO
        var segments: [UInt64]
        var nextSequence: UInt64
        var file: (any SegmentFile)?
        var fileBytes = 0
        var failure: (any Error)?
        let onCommit: (@Sendable (Commit) -> Void)?

        init(
            directory: StoreDirectory, header: [UInt8], nextSequence: UInt64, segments: [UInt64], mode: Mode, segmentBytes: Int, io: any JournalIO,
            onCommit: (@Sendable (Commit) -> Void)?
        ) throws {
            self.onCommit = onCommit
            self.directory = directory
            self.header = header
            self.nextSequence = nextSequence
            self.segments = segments
            self.mode = mode
            self.segmentBytes = segmentBytes
            self.io = io
            try startSegment()
        }

        func name(_ first: UInt64) -> String { JournalSegment.fileName(firstSequence: first) }

        func startSegment() throws {
            if let old = file {
                // The old segment must be durable before records go to the new one, or a power
                // cut could leave a gap in the middle of the journal (--fsync interval).
                try old.sync()
                old.close()
                file = nil
            }
            let first = nextSequence
            if segments.last == first {
                // A segment named for a record that never became durable holds no records
                // (recovery cut it to its header): start it afresh rather than append a header.
                try io.removeFile(name(first), in: directory)
                segments.removeLast()
            }
            let segment = try io.createSegment(name(first), in: directory)
            try segment.append(header)
            try segment.sync()
            try io.syncDirectory(directory)
            file = segment
            fileBytes = JournalSegment.headerBytes
            segments.append(first)
        }

        /// One round: everything queued since the last. Returns what it appended and synced.
        func process(_ items: [Item]) -> (bytes: Int, records: Int, syncs: Int) {
            var bytes: [UInt8] = []
            var waiters: [@Sendable (Result<Void, any Error>) -> Void] = []
            var syncRequested = false
            var written = 0, records = 0, pendingRecords = 0, syncs = 0
            func flush() {
                guard !waiters.isEmpty || syncRequested else { return }
                let sync = mode == .always || syncRequested
                // Timed only when it syncs: a write alone is not what the histogram measures.
                let start = onCommit != nil && sync ? ContinuousClock.now : nil
                let result = commit(bytes, sync: sync)
                if case .success = result {
                    written += bytes.count
                    records += pendingRecords
                    if sync { syncs += 1 }
                    if let onCommit, !bytes.isEmpty || sync {
                        onCommit(Commit(records: pendingRecords, bytes: bytes.count, syncDuration: start.map { ContinuousClock.now - $0 }))
                    }
                }
                pendingRecords = 0
                for waiter in waiters { waiter(result) }
                bytes.removeAll(keepingCapacity: true)
                waiters.removeAll()
                syncRequested = false
            }
            for item in items {
                switch item {
                case .records(let batch, let waiter):
                    pendingRecords += batch.count
                    for record in batch {
                        do {
                            try record.encode(into: &bytes)
                        } catch {
                            failure = failure ?? error
                        }
                        nextSequence = record.sequence + 1
                    }
                    waiters.append(waiter)
                case .sync:
                    syncRequested = true
                case .rotate:
                    flush()
                    if failure == nil, fileBytes > JournalSegment.headerBytes {
                        do { try startSegment() } catch { failure = error }
                    }
                case .remove(let sequence):
                    flush()
                    removeSegments(coveredThrough: sequence)
                case .close(let done):
                    syncRequested = true
                    flush()
                    file?.close()
                    file = nil
                    done(failure.map { .failure($0) } ?? .success(()))
                case .reopen(let next, let existing, let done):
                    flush()
                    done(Result { try reopen(nextSequence: next, segments: existing) })
                }
            }
            flush()
            if failure == nil, fileBytes >= segmentBytes {
                do { try startSegment() } catch { failure = error }
            }
            return (written, records, syncs)
        }

        private func commit(_ bytes: [UInt8], sync: Bool) -> Result<Void, any Error> {
            if let failure { return .failure(failure) }
            guard let file else { return .failure(StoreError("the journal is closed")) }
            do {
                if !bytes.isEmpty {
                    try file.append(bytes)
                    fileBytes += bytes.count
                }
                if sync { try file.sync() }
                return .success(())
            } catch {
                failure = error
                return .failure(error)
            }
        }

        private func reopen(nextSequence: UInt64, segments: [UInt64]) throws {
            // Dropped, not closed: close would cut the file at this process's idea of its end,
            // and recovery has already cut it at the last durable record.
            file = nil
            self.nextSequence = nextSequence
            self.segments = segments
            fileBytes = 0
            do {
                try startSegment()
                failure = nil
            } catch {
                failure = error
                throw error
            }
        }

        private func removeSegments(coveredThrough sequence: UInt64) {
            // Segment i holds sequences [first_i, first_{i+1}); the open one is never removed.
            var removed = 0
            while segments.count > 1, segments[1] - 1 <= sequence {
                do {
                    try io.removeFile(name(segments[0]), in: directory)
                } catch {
                    break  // harmless: recovery skips records a snapshot covers; try again next time
                }
                segments.removeFirst()
                removed += 1
            }
            if removed > 0 { try? io.syncDirectory(directory) }
        }
    }
}
