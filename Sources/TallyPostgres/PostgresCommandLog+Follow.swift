import Logging
import NIOCore
import PostgresNIO
import TallyStore

/// The follower: reads the rows after the last one applied, in order, whenever a commit is
/// NOTIFYed, this node's own INSERT returns, or a second passes, and hands them to the Writer.
extension PostgresCommandLog {
    /// Notes the follower's step, for reportStuckFollower.
    private func following(_ step: String) {
        state.withLock { $0.following = (step, .now, false) }
    }

    public func follow(
        after sequence: UInt64, chain: [UInt8],
        apply: @escaping @Sendable ([LogBatch], _ applied: @escaping @Sendable () -> Void) -> Void,
        lost: @escaping @Sendable (any Error) -> Void
    ) {
        let follower = Task { await runFollower(after: sequence, chain: chain, apply: apply, lost: lost) }
        let listener = Task { await runListener() }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                followerWakes.yield()
                reportStuckFollower()
            }
        }
        state.withLock { $0.tasks += [follower, listener, ticker] }
        followerWakes.yield()
    }

    /// A follower that spends 10 s in one step (a query PostgreSQL does not answer) is logged once.
    private func reportStuckFollower() {
        let stuck = state.withLock { state -> (String, Duration)? in
            let took = ContinuousClock.now - state.following.since
            guard state.following.step != "idle", !state.following.reported, took > .seconds(10) else { return nil }
            state.following.reported = true
            return (state.following.step, took)
        }
        if let (step, took) = stuck {
            logger.warning("the command log's follower is stuck", metadata: ["step": "\(step)", "for": "\(took)"])
        }
    }

    private func runFollower(
        after sequence: UInt64, chain: [UInt8], apply: @escaping @Sendable ([LogBatch], @escaping @Sendable () -> Void) -> Void,
        lost: @escaping @Sendable (any Error) -> Void
    ) async {
        var applied = sequence
        var chain = chain
        var connection: LogConnection?
        var lastHeadRead = ContinuousClock.now - .seconds(10)
        var lastProblem = ""
        for await _ in followerStream {
            defer { following("idle") }
            do {
                if connection == nil || connection?.isClosed == true {
                    following("connecting")
                    connection = try await connect("follow")
                }
                let reader = connection!
                // Until the log has nothing more after `applied`: this node's own row when it is
                // next (no read), else a read. A read that came back short, or an own row, ends
                // the round: a later commit NOTIFYs and wakes the follower again.
                while true {
                    let rows: [(batch: LogBatch, bytes: [UInt8])], more: Bool
                    if let own = takeOwnRow(after: applied) {
                        (rows, more) = ([own], false)
                    } else {
                        following("reading rows after \(applied)")
                        let read = try await read(after: applied, on: reader)
                        (rows, more) = (read.rows, read.count == Self.readLimit)
                    }
                    if rows.isEmpty { break }
                    // Each row must continue the history applied so far.
                    if let differs = LogBatch.check(rows, continuing: &chain) {
                        lost(differs)
                        return
                    }
                    let batches = rows.map(\.batch)
                    let bytes = rows.reduce(0) { $0 + $1.bytes.count }
                    following("applying \(batches.count) rows")
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        apply(batches) { done.resume() }
                    }
                    applied = batches[batches.count - 1].lastSequence
                    state.withLock {
                        $0.applied = applied
                        $0.head = max($0.head, applied)
                        $0.bytesFollowed += bytes
                        if !$0.ownRows.isEmpty { $0.ownRows = $0.ownRows.filter { $0.key > applied } }
                    }
                    if !more, state.withLock({ $0.ownRows[applied + 1] == nil }) { break }
                }
                if ContinuousClock.now - lastHeadRead > .seconds(1) {
                    lastHeadRead = .now
                    following("reading the head")
                    let head = try await reader.single(LogSchema.head, logger: logger)
                    if head < applied {
                        lost(StoreError(
                            "this node's state is at position \(applied) but the command log ends at \(head): the data directory belongs to another log; start it empty, or from a backup of a node of this one"))
                        return
                    }
                    state.withLock { $0.head = max($0.head, head) }
                    if head > applied {
                        following("reading the oldest row")
                        let oldest = try await reader.single(LogSchema.oldest, logger: logger)
                        if oldest == 0 || oldest > applied + 1 {
                            let holds = oldest == 0 ? "it holds no rows, up to \(head)" : "its oldest row starts at \(oldest)"
                            lost(StoreError(
                                "the command log no longer holds position \(applied + 1) (\(holds)): this node is too far behind; seed it from a backup of another node (tallyd restore) and start it again"))
                            return
                        }
                    }
                }
                lastProblem = ""
            } catch {
                let problem = Self.describe(error)
                if problem != lastProblem {
                    logger.warning("cannot read the command log; trying again every second", metadata: ["error": "\(problem)"])
                    lastProblem = problem
                }
                await connection?.close()
                connection = nil
            }
        }
        await connection?.close()
    }

    /// LISTENs for commits on a connection of its own (queries beside a LISTEN on one
    /// connection were seen to hang once it broke), waking the follower on each.
    private func runListener() async {
        while !Task.isCancelled {
            do {
                try await withConnection("listen") { log in
                    try await log.connection.listen(on: LogSchema.channel) { notifications in
                        for try await _ in notifications { followerWakes.yield() }
                    }
                }
            } catch {
                logger.debug("not listening for log commits", metadata: ["error": "\(Self.describe(error))"])
            }
            // The ticker wakes the follower meanwhile; a second before listening again.
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// This node's row at `position + 1`, if it appended it and it is not applied yet.
    private func takeOwnRow(after position: UInt64) -> (batch: LogBatch, bytes: [UInt8])? {
        state.withLock { $0.ownRows.removeValue(forKey: position + 1) }
    }

    /// The rows after `position` that follow on from it without a gap, decoded, with their bytes,
    /// and how many rows the read returned (a full read may have left more).
    private func read(after position: UInt64, on connection: LogConnection) async throws -> (rows: [(batch: LogBatch, bytes: [UInt8])], count: Int64) {
        let found = try await connection.run { [logger] in
            try await $0.query(LogSchema.rows(after: Int64(position), limit: Self.readLimit), logger: logger).collect()
        }
        var rows: [(batch: LogBatch, bytes: [UInt8])] = []
        var next = position + 1
        for row in found {
            let (first, node, boot, proposals, records, chain) = try row.decode((Int64, String, Int64, [Int64], ByteBuffer, ByteBuffer).self)
            // A gap is a row not yet visible or one pruned: stop before it (the head check tells).
            guard UInt64(first) == next else { break }
            let bytes = Array(buffer: records)
            let decoded = try LogBatch.decode(bytes, firstSequence: next)
            guard decoded.count == proposals.count, !decoded.isEmpty else {
                throw StoreError("log row at \(first) holds \(decoded.count) records for \(proposals.count) proposals")
            }
            rows.append((
                LogBatch(
                    firstSequence: next, node: node, boot: boot, proposals: proposals.map { UInt64($0) }, records: decoded,
                    chain: Array(buffer: chain)),
                bytes))
            next += UInt64(decoded.count)
        }
        return (rows, Int64(found.count))
    }
}
