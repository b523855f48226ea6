import Glibc
import DequeModule
import Logging
import NIOCore
import NIOPosix
import TallyLedger
import TallyStore
import TallyWire

/// The only code that mutates the Ledger. Its executor is a dedicated NIO event loop, so
/// connections hand it whole batches with one `execute` (no `await` per request) and it
/// applies them one command at a time.
///
/// Durability: every state-changing command becomes a journal record with the next sequence
/// number. A batch's answers wait until the journal reports everything up to its last record
/// durable, so nothing is answered that a crash could take back; reads and refusals wait too,
/// since they may depend on changes not yet durable. The Writer keeps an O(1) copy of the state
/// as of each batch in flight; if the journal fails, it goes back to the last durable state,
/// answers the undurable batches UNAVAILABLE, and refuses mutations from then on.
public actor Writer {
    nonisolated let loop: any EventLoop
    public nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }

    private var ledger: Ledger
    private var clock: WriterClock
    private nonisolated let wall: WallClock
    private let journal: any Journal
    private let logger: Logger
    private var nextSequence: UInt64
    private var rateLimiter: RateLimiter
    /// The usage time zone's calendar and the day last stamped (most stamps fall in it).
    private var calendar: UsageCalendar
    private var usageDay: UsageDay?

    /// The newest state whose every record is durable, and the batches waiting to become so.
    private var durable: (sequence: UInt64, ledger: Ledger)
    private var inFlight: Deque<(sequence: UInt64, ledger: Ledger)> = []
    private struct Waiting {
        var afterSequence: UInt64
        var answers: [WriterAnswer]
        var reply: @Sendable ([WriterAnswer]) -> Void
    }
    private var waiting: Deque<Waiting> = []
    private var drained: [CheckedContinuation<Void, Never>] = []

    /// Off once shutdown begins or the journal failed: mutations answer UNAVAILABLE.
    private var acceptingMutations = true
    private var refusal = (reason: "SHUTTING_DOWN", message: "tallyd is shutting down; retry against the next instance")

    let snapshots: SnapshotPolicy

    init(
        ledger: Ledger, nextSequence: UInt64, loop: any EventLoop, journal: any Journal, snapshots: SnapshotPolicy,
        rateLimits: [RateClass: RateLimit] = [:], wallClock: WallClock = .system, logger: Logger
    ) {
        self.ledger = ledger
        self.rateLimiter = RateLimiter(limits: rateLimits)
        self.nextSequence = nextSequence
        self.durable = (nextSequence - 1, ledger)
        self.loop = loop
        self.clock = WriterClock(after: ledger.lastTimestamp, wall: wallClock)
        self.wall = wallClock
        self.calendar = Self.calendar(for: ledger, logger: logger)
        self.journal = journal
        self.snapshots = snapshots
        self.logger = logger
    }

    /// Hands a batch to the Writer: one hop onto its loop for the whole batch. `reply` runs
    /// on the Writer's loop once the batch and everything before it is durable.
    nonisolated func submit(_ calls: [WriterCall], reply: @escaping @Sendable ([WriterAnswer]) -> Void) {
        loop.execute {
            self.assumeIsolated { $0.process(calls, reply: reply) }
        }
    }

    private func process(_ calls: [WriterCall], reply: @escaping @Sendable ([WriterAnswer]) -> Void) {
        var answers: [WriterAnswer] = []
        answers.reserveCapacity(calls.count)
        var records: [JournalRecord] = []
        let now = NIODeadline.now()
        for call in calls {
            if let deadline = call.deadline, deadline < now {
                if case .apply(let command) = call.operation, acceptingMutations {
                    auditRefusal(call, command, .deadlineExceeded, into: &records)
                }
                answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .deadlineExceeded))
                continue
            }
            switch call.operation {
            case .balance(let userID):
                answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .balance(ledger.balance(of: userID))))
            case .usageStatus(let userID):
                let day = day(containing: clock.peek())
                answers.append(WriterAnswer(
                    callID: call.callID, method: call.method, result: .usageStatus(ledger.usageStatus(of: userID, on: day, at: clock.peek()))))
            case .transaction(let id):
                answers.append(WriterAnswer(
                    callID: call.callID, method: call.method, result: .transaction(ledger.transactions[id], id: id)))
            case .purchase(let paymentID):
                answers.append(WriterAnswer(
                    callID: call.callID, method: call.method,
                    result: .purchase(ledger.purchase(paymentID: paymentID), paymentID: paymentID)))
            case .membership(let userID):
                answers.append(WriterAnswer(
                    callID: call.callID, method: call.method, result: .membership(ledger.membership(of: userID, at: clock.peek()))))
            case .actionPrices:
                answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .actionPrices(ledger.actionPriceList())))
            case .usageLimits:
                answers.append(WriterAnswer(
                    callID: call.callID, method: call.method, result: .usageLimits(ledger.usage.limits, ledger.config.usageRetention)))
            case .apply(let command):
                guard acceptingMutations else {
                    answers.append(WriterAnswer(
                        callID: call.callID, method: call.method,
                        result: .unavailable(reason: refusal.reason, message: refusal.message)))
                    continue
                }
                if let rateClass = call.method.rateClass,
                    let wait = rateLimiter.admit(user: command.userID, rateClass, now: Int64(now.uptimeNanoseconds))
                {
                    auditRefusal(call, command, .rateLimited(rateClass, retryAfterNanoseconds: wait), into: &records)
                    answers.append(WriterAnswer(
                        callID: call.callID, method: call.method, result: .rateLimited(rateClass, retryAfterNanoseconds: wait)))
                    continue
                }
                let stamp = clock.stamp()
                let day = command.needsUsageDay ? day(containing: stamp) : nil
                let applied = ledger.apply(command, at: stamp, day: day, origin: call.origin)
                if applied.changedState {
                    records.append(JournalRecord(sequence: nextSequence, command: command, timestamp: stamp, day: day, origin: call.origin))
                    nextSequence += 1
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
        }
        if let last = records.last?.sequence {
            inFlight.append((last, ledger))
            journal.append(records) { [loop] result in
                loop.execute { self.assumeIsolated { $0.journaled(through: last, result) } }
            }
        }
        waiting.append(Waiting(afterSequence: nextSequence - 1, answers: answers, reply: reply))
        releaseDurableReplies()
    }

    /// Records a mutation refused before the Ledger saw it (deadline, rate limit) in the audit
    /// log, as a journaled attempt like any other.
    private func auditRefusal(_ call: WriterCall, _ command: Command, _ result: WriterAnswer.Result, into records: inout [JournalRecord]) {
        let answer = Responses.answer(WriterAnswer(callID: call.callID, method: call.method, result: result))
        guard let origin = call.origin, let code = Refusal.Code(rawValue: answer.code.rawValue) else { return }
        let attempt = Command.refusedAttempt(RefusedAttempt(
            userID: command.userID, refusal: Refusal(code: code, reason: answer.reason, message: answer.message, details: answer.details)))
        let stamp = clock.stamp()
        _ = ledger.apply(attempt, at: stamp, origin: origin)
        records.append(JournalRecord(sequence: nextSequence, command: attempt, timestamp: stamp, origin: origin))
        nextSequence += 1
    }

    /// The journal's report on the batch ending at record `sequence` (reports come in order).
    private func journaled(through sequence: UInt64, _ result: Result<Void, any Error>) {
        switch result {
        case .success:
            while let first = inFlight.first, first.sequence <= sequence {
                durable = inFlight.removeFirst()
            }
            releaseDurableReplies()
        case .failure(let error):
            if acceptingMutations || refusal.reason != "JOURNAL_FAILED" {
                logger.critical(
                    "journal write failed: refusing every mutation from now on, reads still answered",
                    metadata: ["error": "\(error)", "durable_through": "\(durable.sequence)"])
                acceptingMutations = false
                refusal = ("JOURNAL_FAILED", "tallyd cannot make changes durable (\(error)); mutations are refused, reads still work")
            }
            // Back to the last durable state: what was never durable was never answered.
            ledger = durable.ledger
            followTimeZone()
            nextSequence = durable.sequence + 1
            inFlight.removeAll()
            while let batch = waiting.first {
                waiting.removeFirst()
                let answers = batch.answers.map { answer in
                    batch.afterSequence <= durable.sequence
                        ? answer
                        : WriterAnswer(
                            callID: answer.callID, method: answer.method,
                            result: .unavailable(reason: refusal.reason, message: refusal.message))
                }
                batch.reply(answers)
            }
        }
        if inFlight.isEmpty {
            for continuation in drained { continuation.resume() }
            drained.removeAll()
        }
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
            process(calls) { continuation.resume(returning: $0) }
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
    private func day(containing moment: Timestamp) -> UsageDay {
        if let usageDay, usageDay.contains(moment) { return usageDay }
        let day = calendar.day(containing: moment)
        usageDay = day
        return day
    }

    /// After the zone may have changed: days come from the Ledger's zone from now on.
    private func followTimeZone() {
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
        if !ticks.isEmpty { process(ticks) { _ in } }
    }

    /// tallyd's own commands in the audit log: its uid and gid, role "tallyd".
    static func tallyd(_ what: String) -> AuditOrigin {
        AuditOrigin(uid: getuid(), gid: getgid(), role: "tallyd", method: what)
    }

    private func releaseDurableReplies() {
        while let first = waiting.first, first.afterSequence <= durable.sequence {
            waiting.removeFirst()
            first.reply(first.answers)
        }
    }

    // MARK: State for snapshots, backups and shutdown

    /// The newest durable state: what a snapshot or backup may hold.
    func durableState() -> (sequence: UInt64, ledger: Ledger) { durable }

    /// Stops taking mutations, waits until every batch handed over before is durable, and
    /// returns the final state. Runs after every batch submitted before it (the loop is FIFO).
    func stop() async -> (sequence: UInt64, ledger: Ledger) {
        acceptingMutations = false
        if !inFlight.isEmpty {
            await withCheckedContinuation { drained.append($0) }
        }
        return durable
    }

    /// For tests and the health report: the Ledger as of now (durable or not).
    func currentLedger() -> Ledger { ledger }

    var journalBytes: Int { journal.bytesAppended }

    /// The clock the Writer stamps with (usage queries read "today" from it too).
    nonisolated var wallClock: WallClock { wall }

    /// Why mutations are refused, or nil while they are taken (health).
    var mutationRefusal: String? { acceptingMutations ? nil : refusal.reason }
}
