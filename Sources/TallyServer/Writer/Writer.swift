import Dispatch
import Glibc
import DequeModule
import Logging
import NIOCore
import NIOPosix
import Synchronization
import TallyLedger
import TallyStore
import TallyWire

/// The only code that mutates the Ledger. Its executor is a dedicated NIO event loop, so
/// connections hand it whole batches with one `execute` (no `await` per request) and it
/// applies them one command at a time.
///
/// The state is mutated in place: the Writer holds the only reference to its Ledger, so every
/// write finds its storage uniquely referenced and changes it without copying (Swift's
/// copy-on-write). A copy exists only while a snapshot, backup or scan reads one.
///
/// Durability: every state-changing command becomes a journal record with the next sequence
/// number. A batch's answers wait until the journal reports everything up to its last record
/// durable, so nothing is answered that a crash could take back; reads and refusals wait too,
/// since they may depend on changes not yet durable. Copies for snapshots and scans are handed
/// out only once everything they hold is durable. If the journal fails, the Writer answers the
/// undurable batches UNAVAILABLE, refuses mutations from then on, and rebuilds the last durable
/// state from the data directory (recovery up to the last durable record) to answer reads from.
public actor Writer {
    nonisolated let loop: any EventLoop
    public nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }

    var ledger: Ledger
    var clock: WriterClock
    private nonisolated let wall: WallClock
    private let journal: any Journal
    /// Set with a command log several nodes share (`--journal postgresql://`): mutations are
    /// proposed to it and applied when it hands them back in log order (Writer+Log.swift).
    let log: (any CommandLog)?
    /// That log's proposals whose callers wait, and the next proposal's number.
    var proposals: [UInt64: Proposal] = [:]
    var nextProposal: UInt64 = 1
    /// Who waits until the log is applied through a position (start-up's catch-up).
    var applyWaiters: [(through: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    /// Why the log cannot be followed any more (this node is too far behind, or not of it).
    var logLost: String?
    /// Set while this node's expiry tick is on its way through the log.
    var ticksProposed = false
    /// Calls waiting until the log is applied through their `min_position` (Writer+Log.swift).
    var positionWaits: [UInt64: (through: UInt64, promise: EventLoopPromise<PositionReached>)] = [:]
    var nextPositionWait: UInt64 = 0
    let logger: Logger
    var nextSequence: UInt64
    private var rateLimiter: RateLimiter
    /// Bounds on what clients can grow; checked before the Ledger sees a command.
    private let capacity: LedgerCapacity
    /// The usage time zone's calendar and the day last stamped (most stamps fall in it).
    private var calendar: UsageCalendar
    private var usageDay: UsageDay?

    /// The last record the journal reported durable, and the last record of each batch handed
    /// to it since (oldest first).
    var durableSequence: UInt64
    private var inFlight: Deque<UInt64> = []
    /// The last transaction id of the durable state, and of each batch in `inFlight`: what
    /// balance watches may be sent (only durable changes ever are).
    var durableTransaction: UInt64
    private var inFlightTransactions: Deque<UInt64> = []
    /// Ledger/WatchBalance's and Usage/WatchUsage's watches (Writer+Watch.swift).
    let balanceWatchers = BalanceWatchers()
    let usageWatchers = UsageWatchers()
    /// The next usage day's start, while usage watches are open (Writer+Watch.swift).
    var dayStart: Scheduled<Void>?
    private struct Waiting {
        var afterSequence: UInt64
        var answers: [WriterAnswer]
        var turn: (start: NIODeadline, end: NIODeadline)
        var reply: Reply
    }
    /// A batch's answers, and when its turn ran and it became durable (the slow-call log).
    typealias Reply = @Sendable ([WriterAnswer], WriterTiming) -> Void
    /// Copies of the state waiting until their last record is durable (snapshots, scans).
    private struct CopyWaiting {
        var sequence: UInt64
        var ledger: Ledger
        var deliver: (Result<(sequence: UInt64, ledger: Ledger), any Error>) -> Void
    }
    private var copies: Deque<CopyWaiting> = []
    /// Rebuilds the state as of a durable record from the data directory (after a journal failure).
    private let rebuild: @Sendable (UInt64) throws -> Ledger
    /// Set while that rebuild runs: reads wait in `held` until the durable state is back.
    private var rebuilding = false
    /// Recovers the data directory up to a durable record, cutting the journal after it (the
    /// resume once the disk takes writes again).
    private let recoverForResume: @Sendable (UInt64) throws -> Recovery.Recovered
    /// Set once shutdown begins: a failed journal is no longer reopened.
    var stopping = false
    /// The journal failure's error as last logged by a resume attempt (logged again only when it changes).
    private var lastResumeError = ""
    private var held: [(calls: [WriterCall], reply: Reply)] = []
    /// The journal's reports, gathered so that one fsync round wakes the loop once.
    private nonisolated let reports: JournalReports
    private var waiting: Deque<Waiting> = []
    var drained: [CheckedContinuation<Void, Never>] = []

    /// Off once shutdown begins or the journal failed: mutations answer UNAVAILABLE.
    var acceptingMutations = true
    /// Set for good when the data directory is found replaced (`directoryReplaced`).
    private var directoryLost = false
    /// Set only when the journal failed and the durable state could not be rebuilt.
    private var readsRefused = false
    var refusal = shuttingDown
    static let shuttingDown = (reason: "SHUTTING_DOWN", message: "tallyd is shutting down; retry against the next instance")

    let snapshots: SnapshotPolicy

    init(
        ledger: Ledger, nextSequence: UInt64, loop: any EventLoop, journal: any Journal, snapshots: SnapshotPolicy,
        rateLimits: [RateClass: RateLimit] = [:], capacity: LedgerCapacity = LedgerCapacity(), wallClock: WallClock = .system,
        logger: Logger,
        rebuild: @escaping @Sendable (UInt64) throws -> Ledger = { _ in throw StoreError("no data directory to rebuild from") },
        recoverForResume: @escaping @Sendable (UInt64) throws -> Recovery.Recovered = { _ in
            throw StoreError("no data directory to recover from")
        }
    ) {
        self.rebuild = rebuild
        self.recoverForResume = recoverForResume
        self.reports = JournalReports(loop: loop)
        self.ledger = ledger
        self.ledgerConfig = ledger.config
        self.rateLimiter = RateLimiter(limits: rateLimits)
        self.capacity = capacity
        self.nextSequence = nextSequence
        self.durableSequence = nextSequence - 1
        self.durableTransaction = ledger.nextTransactionID - 1
        self.loop = loop
        self.clock = WriterClock(after: ledger.lastTimestamp, wall: wallClock)
        self.wall = wallClock
        self.calendar = Self.calendar(for: ledger, logger: logger)
        self.journal = journal
        self.log = journal as? any CommandLog
        self.snapshots = snapshots
        self.logger = logger
        health.withLock {
            $0.durableSequence = nextSequence - 1
            $0.counts = (ledger.accounts.count, ledger.transactions.count, ledger.auditLog.count)
        }
    }

    /// Hands a batch to the Writer: one hop onto its loop for the whole batch. `reply` runs
    /// on the Writer's loop once the batch and everything before it is durable.
    /// A connection served on the Writer's own loop (the default) hands its batch over without
    /// a hop: each thread hand-off costs a wake-up that cost more CPU than the call itself.
    nonisolated func submit(_ calls: [WriterCall], reply: @escaping Reply) {
        onLoop { $0.process(calls, reply: reply) }
    }

    /// Runs `body` on the Writer's loop: at once when already there, else as one task on it.
    nonisolated func onLoop(_ body: @escaping @Sendable (isolated Writer) -> Void) {
        if loop.inEventLoop {
            assumeIsolated(body)
        } else {
            loop.execute { self.assumeIsolated(body) }
        }
    }

    private func process(_ calls: [WriterCall], reply: @escaping Reply) {
        defer { publishHealth() }
        if rebuilding {
            held.append((calls, reply))
            return
        }
        if let log {
            propose(calls, to: log, reply: reply)
            return
        }
        var answers: [WriterAnswer] = []
        answers.reserveCapacity(calls.count)
        var records: [JournalRecord] = []
        var usageChanges: [UsageWatchChange] = []
        let now = NIODeadline.now()
        for call in calls {
            if let deadline = call.deadline, deadline < now {
                if case .apply(let command) = call.operation, acceptingMutations {
                    auditRefusal(call, command, .deadlineExceeded, into: &records)
                }
                answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .deadlineExceeded))
                continue
            }
            if readsRefused {
                answers.append(WriterAnswer(
                    callID: call.callID, method: call.method, result: .unavailable(reason: refusal.reason, message: refusal.message)))
                continue
            }
            guard case .apply(let command) = call.operation else {
                answers.append(answerRead(call))
                continue
            }
            guard acceptingMutations else {
                answers.append(WriterAnswer(
                    callID: call.callID, method: call.method,
                    result: .unavailable(reason: refusal.reason, message: refusal.message)))
                continue
            }
            let stamp: Timestamp
            switch admit(call, command, now: now, into: &records) {
            case .refused(let answer):
                answers.append(answer)
                continue
            case .stamped(let admitted):
                stamp = admitted
            }
            let day = command.needsUsageDay ? day(containing: stamp) : nil
            let applied = ledger.apply(command, at: stamp, day: day, origin: call.origin)
            if applied.changedState {
                records.append(JournalRecord(sequence: nextSequence, command: command, timestamp: stamp, day: day, origin: call.origin))
                nextSequence += 1
                if !usageWatchers.isEmpty { noteUsageChange(command, applied.outcome, at: stamp, into: &usageChanges) }
            }
            if call.origin == nil, call.method.access == .usage, case .refused(let refused) = applied.outcome {
                countUsageRefusal(refused.reason)
            }
            switch applied.outcome {
            case .usageLimits(let limits):
                if case .changeUsage(.timeZone) = command { followTimeZone() }
                answers.append(WriterAnswer(
                    callID: call.callID, method: call.method, result: .usageLimits(limits, ledger.config.usageRetention)))
            default:
                answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .applied(applied)))
            }
        }
        if let last = records.last?.sequence {
            inFlight.append(last)
            inFlightTransactions.append(ledger.nextTransactionID - 1)
            journal.append(records) { [reports] result in
                reports.report(through: last, result) { through, result in
                    self.assumeIsolated { $0.journaled(through: through, result) }
                }
            }
        }
        if !usageChanges.isEmpty {
            usageWatchers.hold(usageChanges, afterRecord: nextSequence - 1)
            usageWatchers.release(durableThrough: durableSequence)
        }
        // One clock read ends the turn for the slow-turn warning and the slow-call log alike.
        let end = NIODeadline.now()
        waiting.append(Waiting(afterSequence: nextSequence - 1, answers: answers, turn: (now, end), reply: reply))
        releaseDurableReplies(at: end)
        noteSlowTurn("applying a batch", since: now, until: end) {
            let methods = Set(calls.map(\.method.rawValue)).sorted().prefix(5).joined(separator: ",")
            return ["calls": "\(calls.count)", "records": "\(records.count)", "methods": "\(methods)"]
        }
    }

    /// A read's answer from the state as of now.
    func answerRead(_ call: WriterCall) -> WriterAnswer {
        let result: WriterAnswer.Result
        switch call.operation {
        case .balance(let userID):
            result = .balance(ledger.balance(of: userID))
        case .usageStatus(let userID):
            result = .usageStatus(ledger.usageStatus(of: userID, on: day(containing: clock.peek()), at: clock.peek()))
        case .transaction(let id):
            result = .transaction(ledger.transactions[id], id: id, archivable: id >= 1 && id < ledger.nextTransactionID)
        case .purchase(let paymentID):
            result = .purchase(ledger.purchase(paymentID: paymentID), paymentID: paymentID)
        case .membership(let userID):
            result = .membership(ledger.membership(of: userID, at: clock.peek()))
        case .actionPrices:
            result = .actionPrices(ledger.actionPriceList())
        case .usageLimits:
            result = .usageLimits(ledger.usage.limits, ledger.config.usageRetention)
        case .apply:
            preconditionFailure("answerRead is given reads only")
        }
        return WriterAnswer(callID: call.callID, method: call.method, result: result)
    }

    /// A Writer turn longer than this is logged with what it did: every call on the loop waited.
    static let slowTurn = TimeAmount.milliseconds(50)

    func noteSlowTurn(_ what: String, since start: NIODeadline, until end: NIODeadline = .now(), _ details: () -> Logger.Metadata) {
        let took = end - start
        guard took > Self.slowTurn else { return }
        var metadata = details()
        metadata["ms"] = "\(took.nanoseconds / 1_000_000)"
        logger.warning("slow Writer turn: \(what)", metadata: metadata)
    }

    /// Records a mutation refused before the Ledger saw it (deadline, rate limit) in the audit
    /// log, as a journaled attempt like any other.
    func auditRefusal(_ call: WriterCall, _ command: Command, _ result: WriterAnswer.Result, into records: inout [JournalRecord]) {
        // Deadline and rate-limit refusals are error envelopes, never OK answers.
        guard case .envelope(let answer) = Responses.answer(WriterAnswer(callID: call.callID, method: call.method, result: result)),
            let code = Refusal.Code(rawValue: answer.code.rawValue)
        else { return }
        auditRefusal(
            call, command, Refusal(code: code, reason: answer.reason, message: answer.message, details: answer.details), into: &records)
    }

    /// Records `refusal` of a mutation the Ledger did not apply (deadline, rate limit,
    /// capacity): a journaled refused attempt when the call is audited, else a count by reason
    /// for usage calls.
    func auditRefusal(_ call: WriterCall, _ command: Command, _ refusal: Refusal, into records: inout [JournalRecord]) {
        guard let origin = call.origin else {
            if call.method.access == .usage { countUsageRefusal(refusal.reason) }
            return
        }
        let attempt = Command.refusedAttempt(RefusedAttempt(userID: command.userID, refusal: refusal))
        let stamp = clock.stamp()
        guard log == nil else {
            // Proposed like any command: every node applies it in its place in the log.
            records.append(JournalRecord(sequence: 0, command: attempt, timestamp: stamp, origin: origin))
            return
        }
        _ = ledger.apply(attempt, at: stamp, origin: origin)
        records.append(JournalRecord(sequence: nextSequence, command: attempt, timestamp: stamp, origin: origin))
        nextSequence += 1
    }

    /// What a mutation's checks before the Ledger gave: its stamp, or its refusal.
    enum Admission {
        case stamped(Timestamp)
        case refused(WriterAnswer)
    }

    /// A mutation's checks before the Ledger sees it, for the file journal and the shared log
    /// alike: the caller's rate limit, then this tallyd's capacity at the mutation's stamp. A
    /// refusal is audited into `records` (a refused attempt, so replay never depends on the
    /// limits configured then).
    func admit(_ call: WriterCall, _ command: Command, now: NIODeadline, into records: inout [JournalRecord]) -> Admission {
        if let rateClass = call.method.rateClass,
            let wait = rateLimiter.admit(user: command.userID, rateClass, now: Int64(now.uptimeNanoseconds))
        {
            auditRefusal(call, command, .rateLimited(rateClass, retryAfterNanoseconds: wait), into: &records)
            return .refused(WriterAnswer(callID: call.callID, method: call.method, result: .rateLimited(rateClass, retryAfterNanoseconds: wait)))
        }
        let stamp = clock.stamp()
        if let full = ledger.capacityRefusal(command, at: stamp, capacity: capacity) {
            auditRefusal(call, command, full, into: &records)
            return .refused(WriterAnswer(
                callID: call.callID, method: call.method, result: .applied(Applied(outcome: .refused(full), replayed: false, changedState: false))))
        }
        return .stamped(stamp)
    }

    /// Usage calls that are not audited one by one: their refusals by reason, since start.
    private(set) var usageRefusals: [String: Int64] = [:]

    func countUsageRefusal(_ reason: String) {
        usageRefusals[reason, default: 0] += 1
    }

    /// The journal's report on the batch ending at record `sequence` (reports come in order).
    private func journaled(through sequence: UInt64, _ result: Result<Void, any Error>) {
        defer { publishHealth() }
        switch result {
        case .success:
            let start = NIODeadline.now()
            let before = durableSequence
            let transactionsBefore = durableTransaction
            while let first = inFlight.first, first <= sequence {
                durableSequence = inFlight.removeFirst()
                durableTransaction = inFlightTransactions.removeFirst()
            }
            // The callers' answers first: a watch's copy of a change never delays the answer
            // to the change itself (each delivery is a socket write of its own).
            releaseDurableReplies(at: start)
            if !balanceWatchers.isEmpty, durableTransaction > transactionsBefore {
                deliverToWatches(after: transactionsBefore)
            }
            usageWatchers.release(durableThrough: durableSequence)
            while let first = copies.first, first.sequence <= durableSequence {
                copies.removeFirst()
                first.deliver(.success((first.sequence, first.ledger)))
            }
            noteSlowTurn("answering what became durable", since: start) {
                ["records": "\(durableSequence - before)", "through": "\(durableSequence)"]
            }
        case .failure(let error):
            guard !rebuilding, !inFlight.isEmpty else { break }  // the first failure did all of this
            logger.critical(
                "journal write failed: refusing every mutation from now on, reads answered from the last durable state",
                metadata: ["error": "\(error)", "durable_through": "\(durableSequence)"])
            acceptingMutations = false
            refusal = ("JOURNAL_FAILED", "tallyd cannot make changes durable (\(error)); mutations are refused, reads still work")
            // What was never durable was never answered, and never will be.
            inFlight.removeAll()
            inFlightTransactions.removeAll()
            usageWatchers.dropHeld(after: durableSequence)
            let failedAt = NIODeadline.now()
            while let batch = waiting.first {
                waiting.removeFirst()
                let answers = batch.answers.map { answer in
                    batch.afterSequence <= durableSequence
                        ? answer
                        : WriterAnswer(
                            callID: answer.callID, method: answer.method,
                            result: .unavailable(reason: refusal.reason, message: refusal.message))
                }
                batch.reply(answers, WriterTiming(turnStart: batch.turn.start, turnEnd: batch.turn.end, durable: failedAt))
            }
            for copy in copies { copy.deliver(.failure(StoreError("the journal failed before this state was durable: \(error)"))) }
            copies.removeAll()
            rebuildDurableState()
        }
        if inFlight.isEmpty && !rebuilding {
            for continuation in drained { continuation.resume() }
            drained.removeAll()
        }
    }

    /// The in-memory state holds changes the journal never made durable: it is rebuilt from the
    /// data directory up to the last durable record, off the loop, while reads wait.
    private func rebuildDurableState() {
        rebuilding = true
        let through = durableSequence
        let rebuild = self.rebuild
        let loop = self.loop
        DispatchQueue.global().async {
            let result = Result { try rebuild(through) }
            loop.execute { self.assumeIsolated { $0.rebuilt(result) } }
        }
    }

    private func rebuilt(_ result: Result<Ledger, any Error>) {
        defer { publishHealth() }
        switch result {
        case .success(let durable):
            ledger = durable
            durableTransaction = durable.nextTransactionID - 1
            followTimeZone()
            nextSequence = durableSequence + 1
            logger.notice("rebuilt the last durable state", metadata: ["durable_through": "\(durableSequence)"])
        case .failure(let error):
            // Nothing trustworthy to answer from: reads are refused too, until a restart recovers.
            logger.critical("could not rebuild the last durable state; refusing reads too", metadata: ["error": "\(error)"])
            refusal.message = "tallyd cannot make changes durable and could not rebuild its durable state (\(error)); restart it"
            readsRefused = true
        }
        rebuilding = false
        let waitingCalls = held
        held = []
        for (calls, reply) in waitingCalls { process(calls, reply: reply) }
        for continuation in drained { continuation.resume() }
        drained.removeAll()
        scheduleResume(after: Self.firstResumeDelay)
    }

    // MARK: Resuming after a journal failure

    static let firstResumeDelay = TimeAmount.milliseconds(250)
    static let longestResumeDelay = TimeAmount.seconds(2)

    /// The data directory is no longer this tallyd's (DirectoryWatch): mutations are refused
    /// for good, with no attempt to resume (it would recover another tallyd's files).
    nonisolated func directoryReplaced(_ change: String) {
        onLoop { writer in
            writer.directoryLost = true
            writer.acceptingMutations = false
            writer.refusal = (
                "DATA_DIRECTORY_REPLACED",
                "tallyd's data directory was moved, deleted or replaced while it ran (\(change)); it takes no more changes and is stopping"
            )
            let end = StreamEnd(code: .unavailable, reason: "DATA_DIRECTORY_REPLACED", message: writer.refusal.message)
            writer.balanceWatchers.endAll(end)
            writer.usageWatchers.endAll(end)
            writer.publishHealth()
        }
    }

    /// Tries again after `delay` whether the data directory takes writes (docs/operations.md).
    private func scheduleResume(after delay: TimeAmount) {
        guard !stopping, !directoryLost else { return }
        loop.scheduleTask(in: delay) { self.assumeIsolated { $0.tryResume(delay) } }
    }

    /// The same recovery as a start, up to the last durable record (the journal is cut after
    /// it: what was never durable, and was answered UNAVAILABLE, is never applied), then a new
    /// journal segment, whose creation and fsync are the test that the disk takes writes.
    /// Off the loop; mutations stay refused and reads are answered meanwhile.
    private func tryResume(_ delay: TimeAmount) {
        guard !stopping, !directoryLost, !acceptingMutations, !rebuilding else { return }
        let through = durableSequence
        let recover = recoverForResume
        let journal = self.journal
        let loop = self.loop
        DispatchQueue.global().async {
            let recovered: Recovery.Recovered
            do {
                recovered = try recover(through)
                guard recovered.nextSequence == through + 1 else {
                    throw StoreError("the data directory holds records up to \(recovered.nextSequence - 1), but \(through) were durable")
                }
            } catch {
                loop.execute { self.assumeIsolated { $0.resumeFailed(error, delay) } }
                return
            }
            journal.reopen(nextSequence: recovered.nextSequence, existingSegments: recovered.segments) { result in
                loop.execute {
                    self.assumeIsolated { writer in
                        switch result {
                        case .success: writer.resumed(recovered)
                        case .failure(let error): writer.resumeFailed(error, delay)
                        }
                    }
                }
            }
        }
    }

    private func resumeFailed(_ error: any Error, _ delay: TimeAmount) {
        let message = "\(error)"
        if message != lastResumeError {
            logger.warning("the data directory does not take writes yet; trying again with backoff", metadata: ["error": "\(message)"])
            lastResumeError = message
        }
        scheduleResume(after: min(delay * 2, Self.longestResumeDelay))
    }

    private func resumed(_ recovered: Recovery.Recovered) {
        guard !stopping, !directoryLost else { return }
        defer { publishHealth() }
        ledger = recovered.ledger
        durableTransaction = ledger.nextTransactionID - 1
        followTimeZone()
        nextSequence = recovered.nextSequence
        readsRefused = false
        acceptingMutations = true
        refusal = Self.shuttingDown
        lastResumeError = ""
        logger.notice(
            "the data directory takes writes again: recovered it in place, taking mutations",
            metadata: ["durable_through": "\(durableSequence)", "recovery": "\(recovered.report.description)"])
        drained.removeAll()
    }

    /// Applies admin commands before tallyd listens (the config file's daily limits), waiting
    /// until they are durable; throws the first refusal.
    func applyAtStart(_ commands: [Command]) async throws {
        let calls = commands.enumerated().map {
            WriterCall(
                callID: UInt64($0.offset + 1), method: .setLimits, deadline: nil, operation: .apply($0.element),
                origin: Self.tallyd("tallyd/Config"))
        }
        let answers: [WriterAnswer] = await withCheckedContinuation { continuation in
            process(calls) { answers, _ in continuation.resume(returning: answers) }
        }
        for answer in answers {
            switch answer.result {
            case .applied(let applied):
                if case .refused(let refusal) = applied.outcome {
                    throw ConfigFile.Invalid("[usage] cannot be applied: \(refusal.reason): \(refusal.message)")
                }
            case .unavailable(let reason, let message): throw ConfigFile.Invalid("[usage] could not be applied: \(reason): \(message)")
            default: continue
            }
        }
    }

    // MARK: Usage days

    /// The usage day holding `moment`, from the cached one when it can.
    func day(containing moment: Timestamp) -> UsageDay {
        if let usageDay, usageDay.contains(moment) { return usageDay }
        let day = calendar.day(containing: moment)
        usageDay = day
        return day
    }

    /// After the zone may have changed: days come from the Ledger's zone from now on.
    func followTimeZone() {
        calendar = Self.calendar(for: ledger, logger: logger)
        usageDay = nil
    }

    private static func calendar(for ledger: Ledger, logger: Logger) -> UsageCalendar {
        let zone = ledger.usage.limits.timeZone
        if let calendar = UsageCalendar(zone: zone) { return calendar }
        // A zone this machine's tz database lacks (the data directory came from elsewhere).
        logger.critical("usage time zone '\(zone)' is unknown here: counting days in UTC until an admin sets a zone")
        return .utc
    }

    /// Releases every reservation whose time-to-live is over and fails every purchase pending
    /// past the purchase timeout, through the journal like any command (the Writer's tick,
    /// every `interval`).
    nonisolated func startExpiring(every interval: TimeAmount) -> RepeatedTask {
        loop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            self.assumeIsolated { $0.expireDue() }
        }
    }

    private func expireDue() {
        guard acceptingMutations else { return }
        let now = clock.peek()
        var ticks: [WriterCall] = []
        if ledger.usage.reservations.values.contains(where: { $0.expiresAt <= now }) {
            ticks.append(WriterCall(
                callID: 0, method: .release, deadline: nil, operation: .apply(.expireReservations),
                origin: Self.tallyd("tallyd/ExpireReservations")))
        }
        if ledger.pendingPurchases.values.contains(where: { now - $0 >= ledger.config.purchaseTimeout }) {
            ticks.append(WriterCall(
                callID: 0, method: .failPurchase, deadline: nil, operation: .apply(.expirePurchases),
                origin: Self.tallyd("tallyd/ExpirePurchases")))
        }
        guard !ticks.isEmpty else { return }
        guard log != nil else {
            process(ticks) { _, _ in }
            return
        }
        // Through a shared log the tick comes back only after a round trip: one at a time, or
        // every sweep until then would propose it again.
        guard !ticksProposed else { return }
        ticksProposed = true
        process(ticks) { _, _ in self.assumeIsolated { $0.ticksProposed = false } }
    }

    /// tallyd's own commands in the audit log: its uid and gid, role "tallyd".
    static func tallyd(_ what: String) -> AuditOrigin {
        AuditOrigin(uid: getuid(), gid: getgid(), role: "tallyd", method: what)
    }

    /// Answers every batch that is durable now: `now` is when it became so.
    private func releaseDurableReplies(at now: NIODeadline) {
        while let first = waiting.first, first.afterSequence <= durableSequence {
            waiting.removeFirst()
            first.reply(first.answers, WriterTiming(turnStart: first.turn.start, turnEnd: first.turn.end, durable: now))
        }
    }

    // MARK: State for snapshots, backups, scans and shutdown

    /// A copy of the state as of now, delivered on the loop once every record it holds is
    /// durable (at once if nothing is in flight): what a snapshot, backup or scan may read.
    /// While the copy lives, the next write to each part it shares copies that part once.
    private func copyWhenDurable(_ deliver: @escaping (Result<(sequence: UInt64, ledger: Ledger), any Error>) -> Void) {
        if rebuilding || readsRefused {
            deliver(.failure(StoreError("tallyd's journal failed: \(refusal.message)")))
            return
        }
        let sequence = nextSequence - 1
        if sequence <= durableSequence {
            deliver(.success((sequence, ledger)))
        } else {
            copies.append(CopyWaiting(sequence: sequence, ledger: ledger, deliver: deliver))
        }
    }

    /// `copyWhenDurable` from any thread: the future completes on the Writer's loop.
    nonisolated func durableCopy() -> EventLoopFuture<(sequence: UInt64, ledger: Ledger)> {
        let copy = loop.makePromise(of: (sequence: UInt64, ledger: Ledger).self)
        onLoop { $0.copyWhenDurable { copy.completeWith($0) } }
        return copy.futureResult
    }

    /// Stops taking mutations, waits until every batch handed over before is durable (or the
    /// durable state rebuilt after a journal failure), and returns the final state, or nil when
    /// there is no trustworthy one. Runs after every batch submitted before it (the loop is FIFO).
    func stop() async -> (sequence: UInt64, ledger: Ledger)? {
        stopping = true
        if acceptingMutations { refusal = Self.shuttingDown }
        acceptingMutations = false
        publishHealth()
        if !inFlight.isEmpty || rebuilding {
            await withCheckedContinuation { drained.append($0) }
        }
        if log != nil {
            await settleProposals()
            endPositionWaits()
        }
        // Every durable change is sent by now: watches end saying so.
        let end = StreamEnd(code: .unavailable, reason: "SHUTTING_DOWN", message: "tallyd is shutting down; watch again against the next instance")
        balanceWatchers.endAll(end)
        usageWatchers.endAll(end)
        dayStart?.cancel()
        return readsRefused ? nil : (durableSequence, ledger)
    }

    /// For tests: the Ledger as of now (durable or not). Drop it before the next write, or that
    /// write copies what it touches.
    func currentLedger() -> Ledger { ledger }

    /// The oldest audit entry in memory (the snapshotter's trims start there).
    var firstAuditID: UInt64 { ledger.firstAuditID }

    /// Sizes for the health report, from the state as of now.
    var counts: (accounts: Int, transactions: Int, auditEntries: Int) {
        (ledger.accounts.count, ledger.transactions.count, ledger.auditLog.count)
    }

    var journalBytes: Int { journal.bytesAppended }

    /// The clock the Writer stamps with (usage queries read "today" from it too).
    nonisolated var wallClock: WallClock { wall }

    /// Why mutations are refused, or nil while they are taken (health).
    var mutationRefusal: String? { acceptingMutations ? nil : refusal.reason }

    /// What Admin/Health reports of the Writer, as of its last turn.
    struct HealthState: Sendable {
        var durableSequence: UInt64 = 0
        var counts = (accounts: 0, transactions: 0, auditEntries: 0)
        var mutationRefusal: String?
        var usageRefusals: [String: Int64] = [:]
    }

    /// Published after every turn that can change it, so that a health probe reads it from any
    /// thread without waiting its turn on the Writer's loop behind a queue of calls.
    nonisolated let health = Mutex(HealthState())
    /// Admin/Changes readers open now (ChangeFeed.limit).
    nonisolated let changeFeeds = Atomic<Int>(0)
    /// The Ledger's settings, for what rebuilds a copy of it off the Writer (ChangeFeed).
    nonisolated let ledgerConfig: LedgerConfig

    func publishHealth() {
        let state = HealthState(
            durableSequence: durableSequence, counts: counts, mutationRefusal: mutationRefusal, usageRefusals: usageRefusals)
        health.withLock { $0 = state }
    }
}
