import NIOCore
import TallyLedger
import TallyStore

/// A batch's calls waiting for the shared command log to hand their commands back.
struct Proposal {
    /// The batch's answers; those of its mutations are filled in as they are applied.
    var answers: [WriterAnswer]
    /// Per proposed record, the answer it fills (nil: an audit record no caller waits on).
    var slots: [Int?]
    /// How many of its records have been applied.
    var applied = 0
    var turn: (start: NIODeadline, end: NIODeadline)
    var reply: Writer.Reply
}

/// The Writer with a command log several nodes share (`--journal postgresql://`, docs/decisions.md,
/// "Several hosts share one command log"). A node never applies a mutation when it takes it: it
/// stamps it and proposes it, and applies it, like every node, when the log hands it back in its
/// place. Its outcome (applied, refused, replayed) is then what the Ledger says at that place, so
/// two hosts spending one user's last tokens at once get exactly one OK. Reads are answered from
/// the state as applied so far: everything this node answered is in it.
extension Writer {
    /// What process() does with a log: reads answered at once, mutations proposed.
    func propose(_ calls: [WriterCall], to log: any CommandLog, reply: @escaping Reply) {
        var answers: [WriterAnswer] = []
        answers.reserveCapacity(calls.count)
        var records: [JournalRecord] = []
        var slots: [Int?] = []
        let now = NIODeadline.now()
        for call in calls {
            guard case .apply(let command) = call.operation else {
                if let deadline = call.deadline, deadline < now {
                    answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .deadlineExceeded))
                } else {
                    answers.append(answerRead(call))
                }
                continue
            }
            // Refusals' audit records are proposed too; no answer waits on them (slot nil).
            let before = records.count
            if let deadline = call.deadline, deadline < now {
                if acceptingMutations { auditRefusal(call, command, .deadlineExceeded, into: &records) }
                slots += Array(repeating: nil, count: records.count - before)
                answers.append(WriterAnswer(callID: call.callID, method: call.method, result: .deadlineExceeded))
                continue
            }
            guard acceptingMutations else {
                answers.append(WriterAnswer(
                    callID: call.callID, method: call.method, result: .unavailable(reason: refusal.reason, message: refusal.message)))
                continue
            }
            let stamp: Timestamp
            switch admit(call, command, now: now, into: &records) {
            case .refused(let answer):
                // This node's limits, judged on its state as applied so far; the refusal is
                // logged, so every node records the same attempt.
                slots += Array(repeating: nil, count: records.count - before)
                answers.append(answer)
                continue
            case .stamped(let admitted):
                stamp = admitted
            }
            // The usage day is left to the applying: it follows from the stamp it is applied at.
            records.append(JournalRecord(sequence: 0, command: command, timestamp: stamp, origin: call.origin))
            slots.append(answers.count)
            answers.append(WriterAnswer(
                callID: call.callID, method: call.method,
                result: .unavailable(reason: "LOG_UNAVAILABLE", message: "the command log has not handed this call back yet")))
        }
        let end = NIODeadline.now()
        guard !records.isEmpty else {
            reply(answers, WriterTiming(turnStart: now, turnEnd: end, durable: end))
            return
        }
        let id = nextProposal
        nextProposal += 1
        if slots.contains(where: { $0 != nil }) {
            proposals[id] = Proposal(answers: answers, slots: slots, turn: (now, end), reply: reply)
        } else {
            reply(answers, WriterTiming(turnStart: now, turnEnd: end, durable: end))
        }
        log.propose(records, proposal: id) { error in
            self.onLoop { $0.proposalFailed(id, error) }
        }
    }

    /// Applies batches of the log in order (each once: the follower may hand over one again
    /// after reconnecting), answering this node's callers as their commands come.
    func applyLog(_ batches: [LogBatch]) {
        guard let log, logLost == nil else { return }
        defer { publishHealth() }
        let start = NIODeadline.now()
        let transactionsBefore = durableTransaction
        let sequenceBefore = durableSequence
        var usageChanges: [UsageWatchChange] = []
        var finished: [UInt64] = []
        for batch in batches where batch.lastSequence >= nextSequence {
            guard batch.firstSequence == nextSequence else {
                lose(StoreError("the command log handed over position \(batch.firstSequence) when \(nextSequence) was next"))
                return
            }
            let mine = batch.node == log.node && batch.boot == log.boot
            for (index, record) in batch.records.enumerated() {
                // Time comes from the log: the proposer's stamp, kept increasing in log order
                // (nodes' clocks differ), and the usage day follows from it.
                let stamp = max(record.timestamp, ledger.lastTimestamp + 1)
                clock.follow(stamp)
                let day = record.command.needsUsageDay ? day(containing: stamp) : nil
                let applied = ledger.apply(record.command, at: stamp, day: day, origin: record.origin)
                if applied.changedState, !usageWatchers.isEmpty {
                    noteUsageChange(record.command, applied.outcome, at: stamp, into: &usageChanges)
                }
                if case .changeUsage(.timeZone) = record.command, case .usageLimits = applied.outcome { followTimeZone() }
                let proposal = batch.proposals[index]
                if mine, proposal != 0, answer(proposal, applied, at: record.sequence, origin: record.origin) { finished.append(proposal) }
            }
            ledger.followLog(chain: batch.chain)
            nextSequence = batch.lastSequence + 1
            durableSequence = batch.lastSequence
        }
        durableTransaction = ledger.nextTransactionID - 1
        if !usageChanges.isEmpty { usageWatchers.hold(usageChanges, afterRecord: durableSequence) }
        usageWatchers.release(durableThrough: durableSequence)
        let now = NIODeadline.now()
        for id in finished {
            guard let done = proposals.removeValue(forKey: id) else { continue }
            done.reply(done.answers, WriterTiming(turnStart: done.turn.start, turnEnd: done.turn.end, durable: now))
        }
        if !balanceWatchers.isEmpty, durableTransaction > transactionsBefore {
            deliverToWatches(after: transactionsBefore)
        }
        if !positionWaits.isEmpty {
            for (id, wait) in positionWaits where wait.through <= durableSequence {
                positionWaits.removeValue(forKey: id)
                wait.promise.succeed(.reached)
            }
        }
        let ready = applyWaiters.filter { $0.through <= durableSequence }
        applyWaiters.removeAll { $0.through <= durableSequence }
        for waiter in ready { waiter.continuation.resume() }
        if proposals.isEmpty { resumeDrained() }
        noteSlowTurn("applying the command log", since: start) {
            ["records": "\(durableSequence - sequenceBefore)", "through": "\(durableSequence)"]
        }
    }

    /// Fills in the answer a record of proposal `id` waits for; true once the proposal has all.
    private func answer(_ id: UInt64, _ applied: Applied, at position: UInt64, origin: AuditOrigin?) -> Bool {
        guard var proposal = proposals[id], proposal.applied < proposal.slots.count else { return false }
        if let slot = proposal.slots[proposal.applied] {
            let method = proposal.answers[slot].method
            if origin == nil, method.access == .usage, case .refused(let refused) = applied.outcome {
                countUsageRefusal(refused.reason)
            }
            proposal.answers[slot].position = position
            if case .usageLimits(let limits) = applied.outcome {
                proposal.answers[slot].result = .usageLimits(limits, ledger.config.usageRetention)
            } else {
                proposal.answers[slot].result = .applied(applied)
            }
        }
        proposal.applied += 1
        proposals[id] = proposal
        return proposal.applied == proposal.slots.count
    }

    /// The log certainly did not take proposal `id`: its callers are told nothing was applied.
    /// Or (`OutcomeUnknown`) it may have: they are told the outcome is unknown, as a client
    /// that lost its connection would have to assume.
    func proposalFailed(_ id: UInt64, _ error: any Error) {
        guard let proposal = proposals.removeValue(forKey: id) else { return }
        var answers = proposal.answers
        for slot in proposal.slots.compactMap({ $0 }) {
            if error is OutcomeUnknown {
                answers[slot].result = .unavailable(
                    reason: "OUTCOME_UNKNOWN",
                    message: "\(error): it may or may not have been applied; retry with the same idempotency key, or read back to see")
            } else {
                answers[slot].result = .unavailable(
                    reason: "LOG_UNAVAILABLE", message: "tallyd could not write this call to its command log, so nothing was applied (\(error)); retry")
            }
        }
        let now = NIODeadline.now()
        proposal.reply(answers, WriterTiming(turnStart: proposal.turn.start, turnEnd: proposal.turn.end, durable: now))
        if proposals.isEmpty { resumeDrained() }
    }

    /// The log cannot be followed any more: mutations are refused, reads go on from the state
    /// applied so far, and start-up (if it waits) fails with the reason.
    func lose(_ error: any Error) {
        guard logLost == nil else { return }
        let message = "\(error)"
        logLost = message
        logger.critical("cannot follow the command log: refusing mutations", metadata: ["error": "\(message)"])
        acceptingMutations = false
        refusal = ("LOG_LOST", "this node cannot follow its command log (\(message))")
        for waiter in applyWaiters { waiter.continuation.resume(throwing: StoreError(message)) }
        applyWaiters.removeAll()
        // Proposed before the log was lost: the log may hold them, this node cannot tell.
        for id in Array(proposals.keys) { proposalFailed(id, OutcomeUnknown("this node lost its command log (\(message)) before the log handed this call back")) }
        publishHealth()
    }

    /// Returns once the log is applied through `position` (start-up, before listening).
    func waitUntilApplied(through position: UInt64) async throws {
        if let logLost { throw StoreError(logLost) }
        if durableSequence >= position { return }
        try await withCheckedThrowingContinuation { applyWaiters.append((position, $0)) }
    }

    /// At shutdown: waits until the log has handed back every proposal still out, a few seconds
    /// at most; those still out then are answered that their outcome is unknown.
    func settleProposals() async {
        guard !proposals.isEmpty else { return }
        let timeout = loop.scheduleTask(in: .seconds(5)) {
            self.assumeIsolated { writer in
                for id in Array(writer.proposals.keys) {
                    writer.proposalFailed(id, OutcomeUnknown("tallyd stopped before its command log handed this call back"))
                }
            }
        }
        await withCheckedContinuation { drained.append($0) }
        timeout.cancel()
    }

    private func resumeDrained() {
        for continuation in drained { continuation.resume() }
        drained.removeAll()
    }

    // MARK: min_position

    /// Once the state holds position `position` (a call's `min_position`): at once when it does;
    /// with a shared log, when the log is applied through it (or the deadline passes); with the
    /// file journal every record is this tallyd's own, so a position past its last is refused.
    nonisolated func whenApplied(through position: UInt64, deadline: NIODeadline?) -> EventLoopFuture<PositionReached> {
        let promise = loop.makePromise(of: PositionReached.self)
        onLoop { $0.awaitPosition(position, deadline: deadline, promise) }
        return promise.futureResult
    }

    private func awaitPosition(_ position: UInt64, deadline: NIODeadline?, _ promise: EventLoopPromise<PositionReached>) {
        if durableSequence >= position { return promise.succeed(.reached) }
        guard log != nil else {
            // Handed to the journal already: the call is ordered after it, like any call.
            let last = nextSequence - 1
            return promise.succeed(position <= last ? .reached : .ahead(last: last))
        }
        if stopping { return promise.succeed(.stopped(reason: refusal.reason, message: refusal.message)) }
        nextPositionWait += 1
        let id = nextPositionWait
        positionWaits[id] = (position, promise)
        if let deadline {
            loop.scheduleTask(deadline: deadline) {
                self.assumeIsolated { $0.positionWaits.removeValue(forKey: id)?.promise.succeed(.deadlinePassed) }
            }
        }
    }

    /// At shutdown: calls still waiting for a position are answered UNAVAILABLE.
    func endPositionWaits() {
        for wait in positionWaits.values { wait.promise.succeed(.stopped(reason: refusal.reason, message: refusal.message)) }
        positionWaits.removeAll()
    }
}

/// What a call waiting for its `min_position` learns.
enum PositionReached: Sendable {
    case reached
    /// A tallyd with its own journal holds records up to `last` only.
    case ahead(last: UInt64)
    case deadlinePassed
    case stopped(reason: String, message: String)
}
