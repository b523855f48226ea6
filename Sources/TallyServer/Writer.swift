import Logging
import NIOCore
import NIOPosix
import TallyLedger
import TallyStore

/// The only code that mutates the Ledger. Its executor is a dedicated NIO event loop, so
/// connections hand it whole batches with one `execute` (no `await` per request) and it
/// applies them one command at a time.
public actor Writer {
    nonisolated let loop: any EventLoop
    public nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }

    private var ledger: Ledger
    private var clock: WriterClock
    private let journal: any Journal
    private let logger: Logger
    /// Off once shutdown begins or durability failed: mutations answer UNAVAILABLE.
    private var acceptingMutations = true
    private var refusalReason = ("SHUTTING_DOWN", "tallyd is shutting down; retry against the next instance")

    // Snapshots
    private let dataDirectory: String
    private let snapshotPool: NIOThreadPool
    private var changesSinceSnapshot = 0
    private var snapshotInFlight = false
    private var snapshotTask: RepeatedTask?

    init(
        ledger: Ledger, loop: any EventLoop, journal: any Journal, dataDirectory: String,
        snapshotPool: NIOThreadPool, logger: Logger
    ) {
        self.ledger = ledger
        self.loop = loop
        self.clock = WriterClock(after: ledger.lastTimestamp)
        self.journal = journal
        self.dataDirectory = dataDirectory
        self.snapshotPool = snapshotPool
        self.logger = logger
    }

    /// Hands a batch to the Writer: one hop onto its loop for the whole batch. `reply` runs
    /// on the Writer's loop once every mutation in the batch is durable.
    nonisolated func submit(_ calls: [WriterCall], reply: @escaping @Sendable ([WriterAnswer]) -> Void) {
        loop.execute {
            self.assumeIsolated { $0.process(calls, reply: reply) }
        }
    }

    private func process(_ calls: [WriterCall], reply: @escaping @Sendable ([WriterAnswer]) -> Void) {
        var answers: [WriterAnswer] = []
        answers.reserveCapacity(calls.count)
        var journaled: [(Command, Timestamp)] = []
        let now = NIODeadline.now()
        for call in calls {
            if let deadline = call.deadline, deadline < now {
                answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .deadlineExceeded))
                continue
            }
            switch call.operation {
            case .balance(let userID):
                answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .balance(ledger.balance(of: userID))))
            case .apply(let command):
                guard acceptingMutations else {
                    let (reason, message) = refusalReason
                    answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .unavailable(reason: reason, message: message)))
                    continue
                }
                let stamp = clock.stamp()
                let applied = ledger.apply(command, at: stamp)
                if applied.changedState {
                    journaled.append((command, stamp))
                }
                answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .applied(applied)))
            }
        }
        guard !journaled.isEmpty else {
            reply(answers)
            return
        }
        changesSinceSnapshot += journaled.count
        // The seam for the write-ahead journal: answers leave only once the batch is durable.
        let loop = self.loop
        let batchAnswers = answers
        journal.append(journaled) { result in
            loop.execute {
                self.assumeIsolated { writer in
                    if case .failure(let error) = result {
                        reply(writer.durabilityFailed(error, answers: batchAnswers))
                    } else {
                        reply(batchAnswers)
                    }
                }
            }
        }
    }

    /// A batch could not be made durable: stop taking mutations and say so, rather than
    /// answering OK for something a crash would lose.
    private func durabilityFailed(_ error: any Error, answers: [WriterAnswer]) -> [WriterAnswer] {
        logger.critical("journal write failed; refusing mutations from now on", metadata: ["error": "\(error)"])
        acceptingMutations = false
        refusalReason = ("JOURNAL_FAILED", "tallyd cannot make changes durable (\(error)); mutations are refused, reads still work")
        return answers.map { answer in
            guard case .applied = answer.result else { return answer }
            let (reason, message) = refusalReason
            return WriterAnswer(callID: answer.callID, method: answer.method, result: .unavailable(reason: reason, message: message))
        }
    }

    // MARK: Snapshots

    /// Starts writing a snapshot every `seconds` while there were changes.
    func startPeriodicSnapshots(every seconds: Int64) {
        guard seconds > 0 else { return }
        snapshotTask = loop.scheduleRepeatedTask(initialDelay: .seconds(seconds), delay: .seconds(seconds)) { [self] _ in
            self.assumeIsolated { $0.snapshotIfChanged() }
        }
    }

    private func snapshotIfChanged() {
        guard changesSinceSnapshot > 0, !snapshotInFlight else { return }
        // An O(1) copy: the Ledger is built on persistent collections, so the Writer keeps
        // going while the copy is encoded and written on the thread pool.
        let copy = ledger
        let changes = changesSinceSnapshot
        changesSinceSnapshot = 0
        snapshotInFlight = true
        let directory = dataDirectory
        let logger = self.logger
        snapshotPool.submit { state in
            let result: Result<Int, any Error> = state == .active
                ? Result { try SnapshotFile.write(copy, to: directory) }
                : .failure(StoreError("snapshot thread pool stopped"))
            self.loop.execute {
                self.assumeIsolated { writer in
                    writer.snapshotInFlight = false
                    switch result {
                    case .success(let bytes):
                        logger.debug("snapshot written", metadata: ["bytes": "\(bytes)", "changes": "\(changes)"])
                    case .failure(let error):
                        writer.changesSinceSnapshot += changes  // try again next time
                        logger.error("snapshot failed", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
    }

    /// Stops taking mutations and returns the final state, for the snapshot of a clean shutdown.
    /// Runs after every batch submitted before it (the loop is FIFO).
    func stop() -> (ledger: Ledger, changed: Bool) {
        acceptingMutations = false
        snapshotTask?.cancel()
        return (ledger, changesSinceSnapshot > 0 || snapshotInFlight)
    }

    /// For tests and the health report: the Ledger as of now.
    func currentLedger() -> Ledger { ledger }
}
