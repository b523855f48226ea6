import Logging
import NIOCore
import NIOPosix
import Synchronization
import TallyLedger
import TallyStore

/// When to write a snapshot: after `intervalSeconds` or `journalBytes` of journal, whichever
/// comes first, as long as something changed. 0 turns a trigger off.
public struct SnapshotPolicy: Sendable {
    public var intervalSeconds: Int64
    public var journalBytes: Int

    public init(intervalSeconds: Int64 = 5, journalBytes: Int = 64 << 20) {
        self.intervalSeconds = intervalSeconds
        self.journalBytes = journalBytes
    }
}

/// Writes snapshots of the Writer's durable state without stalling it: it takes an O(1) copy
/// on the Writer's loop and encodes and writes it on its own thread. After a snapshot is
/// durable, journal segments that the older kept snapshot covers are removed.
///
/// Confined to the Writer's event loop (all state is touched only there).
final class Snapshotter: @unchecked Sendable {
    struct Written: Sendable {
        var path: String
        var sequence: UInt64
        var bytes: Int
        var accounts: Int
    }

    private let writer: Writer
    private let journal: any Journal
    /// The data directory, held open: every snapshot and archive file goes there (and the
    /// archive lookups read there: ArchivedTransactions, AuditEndpoints).
    let directory: StoreDirectory
    /// Named in every snapshot, backup and archive file written.
    let directoryID: DirectoryID
    private let policy: SnapshotPolicy
    private let threads: SnapshotThreads
    private let logger: Logger
    /// Snapshot durations and failures, when tallyd keeps metrics.
    private let meters: Meters?
    /// Where audit entries go once more than `auditKeep` are in memory (nil: archiving is off,
    /// the archive could not be opened).
    private let archive: AuditArchive?
    private let auditKeep: UInt64
    /// Transactions kept in memory per user (0: all); older ones go to archive batches of at
    /// least `archiveMinimum` (docs/operations.md).
    private let transactionsPerUser: Int
    private let archiveMinimum: Int
    /// Settled commitments older than this many days go to archive batches (0: kept).
    private let commitmentArchiveDays: Int
    /// The last archive batches handed to the Writer: no new batch until the Ledger applied it.
    private var submittedBatch: UInt64 = 0
    private var submittedCommitmentBatch: UInt64 = 0
    private var loop: any EventLoop { writer.loop }
    /// Nothing is written once the data directory is no longer this tallyd's.
    private let watch: DirectoryWatch?

    private var lastSequence: UInt64
    /// The last attempt, written or failed: the interval trigger counts from it, so a failing
    /// disk is retried once per interval rather than on every tick.
    private var lastTime = NIODeadline.now()
    /// The last snapshot actually written (start-up if none yet), for health.
    private var lastWrittenAt = NIODeadline.now()
    private var journalBytesAtLast = 0
    private var inProgress = false
    /// Waiting for the snapshot in progress, and for one that starts after it.
    private var waiters: [EventLoopPromise<Written>] = []
    private var nextWaiters: [EventLoopPromise<Written>] = []
    private var task: RepeatedTask?

    init(writer: Writer, journal: any Journal, directory: StoreDirectory, directoryID: DirectoryID, watch: DirectoryWatch? = nil, policy: SnapshotPolicy, threads: SnapshotThreads,
         lastSequence: UInt64, auditKeep: Int = 100_000, transactionsPerUser: Int = 0, archiveMinimum: Int = 10_000,
         commitmentArchiveDays: Int = 0, archives: Bool = true, logger: Logger, meters: Meters? = nil) {
        self.meters = meters
        // Without archives (a node of several hosts) nothing leaves memory: see TallyServer.start.
        self.commitmentArchiveDays = archives ? max(0, commitmentArchiveDays) : 0
        self.transactionsPerUser = archives ? max(0, transactionsPerUser) : 0
        self.archiveMinimum = max(1, archiveMinimum)
        if archives {
            do {
                archive = try AuditArchive(dataDirectory: directory, directoryID: directoryID)
            } catch {
                logger.error("audit archive unusable: audit entries stay in memory", metadata: ["error": "\(error)"])
                archive = nil
            }
        } else {
            archive = nil
        }
        self.auditKeep = UInt64(max(0, auditKeep))
        self.writer = writer
        self.watch = watch
        self.journal = journal
        self.directory = directory
        self.directoryID = directoryID
        self.policy = policy
        self.threads = threads
        self.lastSequence = lastSequence
        self.lastWritten = Mutex((lastSequence, lastWrittenAt))
        self.logger = logger
    }

    /// The last snapshot's record and when it was written (start-up if none yet), published
    /// when one is written so that health reads it from any thread without a turn on the loop.
    private let lastWritten: Mutex<(sequence: UInt64, at: NIODeadline)>

    func lastSnapshot() -> (sequence: UInt64, at: NIODeadline) { lastWritten.withLock { $0 } }

    private func noteWritten(_ sequence: UInt64) {
        lastSequence = sequence
        lastWrittenAt = .now()
        lastWritten.withLock { $0 = (sequence, lastWrittenAt) }
    }

    func start() {
        loop.execute {
            self.task = self.loop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in self.tick() }
        }
    }

    private func tick() {
        let durable = writer.assumeIsolated { $0.durableSequence }
        guard !inProgress, durable > lastSequence else { return }
        let bytes = writer.assumeIsolated { $0.journalBytes } - journalBytesAtLast
        let dueByTime = policy.intervalSeconds > 0 && NIODeadline.now() - lastTime >= .seconds(policy.intervalSeconds)
        let dueBySize = policy.journalBytes > 0 && bytes >= policy.journalBytes
        if dueByTime || dueBySize { take() }
    }

    /// A snapshot now, in the data directory (on demand). One already in progress holds an
    /// older state, so the caller gets the next one, started when that finishes.
    func snapshotNow() -> EventLoopFuture<Written> {
        loop.flatSubmit {
            let promise = self.loop.makePromise(of: Written.self)
            if self.inProgress {
                self.nextWaiters.append(promise)
            } else {
                self.waiters.append(promise)
                self.take()
            }
            return promise.futureResult
        }
    }

    private func take() {
        inProgress = true
        let start = NIODeadline.now()
        writer.durableCopy().flatMap { self.write($0) }.whenComplete { result in
            switch result {
            case .success: self.meters?.snapshotDuration.recordNanoseconds((NIODeadline.now() - start).nanoseconds)
            case .failure: self.meters?.snapshotFailures.increment()
            }
            self.finished(result)
        }
    }

    /// Writes `state` (a durable copy) on the snapshot thread, archiving what is due first.
    private func write(_ state: (sequence: UInt64, ledger: Ledger)) -> EventLoopFuture<Written> {
        journal.rotate()  // so the segments the snapshot covers can be removed whole
        let bytesAtStart = writer.assumeIsolated { $0.journalBytes }
        let directory = self.directory, directoryID = self.directoryID
        let archive = self.archive
        // One archive batch at a time: the previous one must be in the Ledger first.
        let archiveTransactions = transactionsPerUser > 0 && state.ledger.archived.lastBatch >= submittedBatch
        let archiveCommitments = commitmentArchiveDays > 0 && state.ledger.archived.lastCommitmentBatch >= submittedCommitmentBatch
        // The copy is let go on the housekeeping thread, never in a callback on the loop: the
        // last reference frees every tree node the Writer has replaced since the copy (162 ms
        // on the loop for 100,000 users after 5 s of spends, a stall every snapshot).
        let sequence = state.sequence, accounts = state.ledger.accounts.count
        threads.housekeep { self.releaseMemory() }
        let written = threads.encode(state.ledger, on: loop) { ledger, pace in
            if let change = self.watch?.check() { throw StoreError("no snapshot: \(change)") }
            // Audit entries past the ones kept in memory go to the archive first; once it is
            // fsynced, the Writer may drop them (a journaled trim).
            if let archive, let (entries, through) = self.auditToArchive(ledger) {
                do {
                    try archive.append(entries)
                    self.threads.onLoop(self.loop) { self.trimAudit(through: through) }
                } catch {
                    self.logger.error("audit archive append failed; entries stay in memory", metadata: ["error": "\(error)"])
                }
            }
            pace.check()
            if archiveTransactions { self.archiveTransactions(ledger, directory: directory) }
            pace.check()
            if archiveCommitments { self.archiveCommitments(ledger, directory: directory) }
            if let change = self.watch?.check() { throw StoreError("no snapshot: \(change)") }
            return try SnapshotFile.writeAndPrune(ledger, sequence: sequence, directoryID: directoryID, in: directory, eachPart: pace.check)
        }
        return written.map { written in
            self.noteWritten(sequence)
            self.journalBytesAtLast = bytesAtStart
            if let covered = written.oldestKept { self.journal.removeSegments(coveredThrough: covered) }
            self.logger.debug("snapshot written", metadata: ["path": "\(written.path)", "bytes": "\(written.bytes)"])
            return Written(path: written.path, sequence: sequence, bytes: written.bytes, accounts: accounts)
        }
    }

    /// On the housekeeping thread, at each snapshot: what the last cycle freed (audit entries
    /// and transactions archived and dropped, the previous copy's replaced nodes) goes back to
    /// the system. Timed: glibc locks each arena while it trims it.
    private func releaseMemory() {
        let start = NIODeadline.now()
        Malloc.trim()
        let took = Double((NIODeadline.now() - start).nanoseconds) / 1e6
        logger.log(level: took > 20 ? .notice : .debug, "memory released", metadata: ["ms": "\(took)"])
    }

    /// The end of a snapshot attempt, written or not (no durable copy, a failed write): answers
    /// who waited for it and starts the next one if someone asked meanwhile.
    private func finished(_ result: Result<Written, any Error>) {
        inProgress = false
        // The interval counts from the last attempt, so a failing disk is retried once per interval.
        lastTime = .now()
        let waiters = self.waiters
        self.waiters = []
        switch result {
        case .success(let done):
            for waiter in waiters { waiter.succeed(done) }
        case .failure(let error):
            logger.error("snapshot failed; the journal keeps everything, will retry", metadata: ["error": "\(error)"])
            for waiter in waiters { waiter.fail(error) }
        }
        if !nextWaiters.isEmpty {
            self.waiters = nextWaiters
            nextWaiters = []
            take()
        }
    }

    /// The audit entries of `ledger` beyond the newest `auditKeep`, oldest first, and the last id
    /// (on the snapshot thread: it walks them).
    private func auditToArchive(_ ledger: Ledger) -> ([AuditEntry], UInt64)? {
        let newest = ledger.nextAuditID - 1
        guard archive != nil, newest > auditKeep else { return nil }
        let through = newest - auditKeep
        guard through >= ledger.firstAuditID else { return nil }
        return ((ledger.firstAuditID...through).compactMap { ledger.auditLog[$0] }, through)
    }

    /// On the snapshot thread: writes the next batch of transactions past each user's newest
    /// `transactionsPerUser`, then has the Writer drop them (a journaled command).
    private func archiveTransactions(_ ledger: Ledger, directory: StoreDirectory) {
        let batch = ledger.archived.lastBatch + 1
        let transactions = ledger.archivable(keepPerUser: transactionsPerUser, limit: 100_000)
        guard transactions.count >= archiveMinimum else { return }
        do {
            try TransactionArchive.write(batch: batch, transactions, dataDirectory: directory, directoryID: directoryID)
        } catch {
            logger.error("transaction archive failed; transactions stay in memory", metadata: ["error": "\(error)"])
            return
        }
        threads.onLoop(loop) {
            self.submittedBatch = batch
            let call = WriterCall(
                callID: 0, method: .snapshot, deadline: nil,
                operation: .apply(.archiveTransactions(ArchiveTransactions(batch: batch, ids: transactions.map(\.id)))),
                origin: Writer.tallyd("tallyd/ArchiveTransactions"))
            self.writer.submit([call]) { _, _ in }
        }
    }

    /// On the snapshot thread: the next batch of commitments settled more than
    /// `commitmentArchiveDays` ago (by the Ledger's clock), then the Writer drops them.
    private func archiveCommitments(_ ledger: Ledger, directory: StoreDirectory) {
        let batch = ledger.archived.lastCommitmentBatch + 1
        let age = Int64(commitmentArchiveDays).multipliedReportingOverflow(by: 86_400_000_000)
        let before = ledger.lastTimestamp.subtractingReportingOverflow(age.partialValue)
        guard !age.overflow, !before.overflow else { return }
        let commitments = ledger.archivableCommitments(settledBefore: before.partialValue, limit: 100_000)
        guard commitments.count >= archiveMinimum else { return }
        do {
            try TransactionArchive.write(batch: batch, commitments, dataDirectory: directory, directoryID: directoryID)
        } catch {
            logger.error("commitment archive failed; commitments stay in memory", metadata: ["error": "\(error)"])
            return
        }
        threads.onLoop(loop) {
            self.submittedCommitmentBatch = batch
            let call = WriterCall(
                callID: 0, method: .snapshot, deadline: nil,
                operation: .apply(.archiveCommitments(ArchiveCommitments(batch: batch, ids: commitments.map(\.id)))),
                origin: Writer.tallyd("tallyd/ArchiveCommitments"))
            self.writer.submit([call]) { _, _ in }
        }
    }

    /// Drops archived entries in slices of `trimSlice`, each its own hop onto the Writer's loop,
    /// so calls interleave with the trim: one trim of 100,000 entries held the Writer for about
    /// 0.8 s (docs/benchmarks.md).
    private func trimAudit(through: UInt64) {
        let first = writer.assumeIsolated { $0.firstAuditID }
        guard first <= through else { return }
        // Slice ends: first + 1,999, first + 3,999, ..., and `through` itself last.
        let ends = Array(stride(from: first, through: through, by: Int(Self.trimSlice)).dropFirst().map { $0 - 1 }) + [through]
        trimAudit(slices: ends[...])
    }

    /// One slice per Writer turn, the next once the previous is durable: handed over all at
    /// once, 150 slices ran in one turn of the loop and every caller waited 0.5 s.
    private func trimAudit(slices: ArraySlice<UInt64>) {
        guard let end = slices.first else { return }
        let call = WriterCall(
            callID: 0, method: .snapshot, deadline: nil, operation: .apply(.trimAudit(through: end)),
            origin: Writer.tallyd("tallyd/ArchiveAudit"))
        writer.submit([call]) { _, _ in
            // A task of its own, so that connections are served between slices.
            self.loop.execute { self.trimAudit(slices: slices.dropFirst()) }
        }
    }

    static let trimSlice: UInt64 = 2_000

    /// A consistent snapshot of the durable state written to `path` (a backup), while the
    /// Writer keeps going.
    func backup(to path: String) -> EventLoopFuture<Written> {
        writer.durableCopy().flatMap { state in
            let sequence = state.sequence, accounts = state.ledger.accounts.count, directoryID = self.directoryID
            return self.threads.encode(state.ledger, on: self.loop) { ledger, pace in
                let bytes = try SnapshotFile.write(
                    ledger, sequence: sequence, directoryID: directoryID, to: path, replace: false, eachPart: pace.check)
                return Written(path: path, sequence: sequence, bytes: bytes, accounts: accounts)
            }
        }
    }

    /// The final snapshot of a clean shutdown, of the state the stopped Writer returned. Runs
    /// after any snapshot in progress (one thread), and is skipped if nothing changed since.
    func final(_ state: (sequence: UInt64, ledger: Ledger)) -> EventLoopFuture<Written?> {
        loop.flatSubmit {
            self.task?.cancel()
            guard state.sequence > self.lastSequence else { return self.loop.makeSucceededFuture(nil) }
            let directory = self.directory, directoryID = self.directoryID
            let sequence = state.sequence, accounts = state.ledger.accounts.count  // the copy stays off the loop
            // Urgent: a service manager waits for it, with a stop timeout.
            return self.threads.encode(state.ledger, on: self.loop, urgent: true) { ledger, _ in
                try SnapshotFile.writeAndPrune(ledger, sequence: sequence, directoryID: directoryID, in: directory)
            }.map { written in
                self.noteWritten(sequence)
                if let covered = written.oldestKept { self.journal.removeSegments(coveredThrough: covered) }
                return Written(path: written.path, sequence: sequence, bytes: written.bytes, accounts: accounts)
            }
        }
    }
}
