import Logging
import NIOCore
import PostgresNIO
import TallyStore

/// The appender: every proposal queued while its last INSERT ran goes into the next one, as one
/// row (group commit). An INSERT whose connection broke is settled by asking PostgreSQL whether
/// its row is there.
extension PostgresCommandLog {
    func runAppender() async {
        var connection: LogConnection?
        var batch: Int64 = 0
        for await _ in appenderStream {
            while case let taken = takeQueued(), !taken.isEmpty {
                batch += 1
                state.withLock { [batch] in $0.appending = (batch, .now, "connecting") }
                defer { state.withLock { $0.appending = nil } }
                do {
                    if connection == nil || connection?.isClosed == true {
                        connection = try await connect("append")
                    }
                } catch {
                    fail(taken, Unreachable(address: address, error: error))
                    continue
                }
                let records = taken.flatMap(\.records)
                let proposals = taken.flatMap { Array(repeating: Int64($0.proposal), count: $0.records.count) }
                let bytes: [UInt8]
                do {
                    bytes = try LogBatch.encode(records)
                } catch {
                    fail(taken, error)
                    continue
                }
                let query = LogSchema.append(
                    count: Int64(records.count), node: node, boot: boot, batch: batch, proposals: proposals,
                    records: ByteBuffer(bytes: bytes))
                state.withLock { $0.appending?.step = "inserting" }
                let appended: (first: UInt64, chain: [UInt8])
                do {
                    appended = try await connection!.appended(query, logger: logger)
                    // PostgresNIO ends a statement at its CommandComplete, which PostgreSQL sends
                    // before the commit (done at the Sync after it); it normally holds it back
                    // until ReadyForQuery, but flushes it early with a message such as the
                    // warning of an immediate shutdown that cut a synchronous standby's wait
                    // short, and the row then never committed anywhere but locally. Only
                    // ReadyForQuery means committed: a statement behind it on the same
                    // connection is answered only after it. (Seen as a node that applied a row
                    // its promoted standby lacked.)
                    state.withLock { $0.appending?.step = "confirming the commit" }
                    try await connection!.confirmCommitted(logger: logger)
                } catch let error as PSQLError where error.serverInfo?[.severity] == "ERROR" {
                    // PostgreSQL answered the statement with an error: it rolled back. (A FATAL
                    // is different: a backend ending while it waited for a synchronous standby
                    // has committed locally. That is settled below like a broken connection.)
                    logger.error("the command log refused an append", metadata: ["error": "\(Self.describe(error))"])
                    fail(taken, Refused(error: error))
                    continue
                } catch {
                    await connection?.close()
                    connection = nil
                    await settle(taken, batch: batch, broken: error)
                    continue
                }
                // The follower applies this row from here when it is next in order, with no
                // read of its own. Decoded from the very bytes PostgreSQL holds, as every other
                // node decodes them.
                if let decoded = try? LogBatch.decode(bytes, firstSequence: appended.first) {
                    let row = LogBatch(
                        firstSequence: appended.first, node: node, boot: boot, proposals: proposals.map { UInt64($0) }, records: decoded,
                        chain: appended.chain)
                    state.withLock { $0.ownRows[appended.first] = (row, bytes) }
                }
                committed(taken)
            }
        }
        await connection?.close()
    }

    /// An append whose connection broke before PostgreSQL said it committed: its proposals
    /// wait until PostgreSQL can say whether the row is there.
    private func settle(_ taken: [Queued], batch: Int64, broken error: any Error) async {
        logger.warning(
            "the connection to the command log broke during an append: finding out whether it committed",
            metadata: ["error": "\(Self.describe(error))", "batch": "\(batch)"])
        state.withLock { $0.appending?.step = "settling whether it committed" }
        switch await settleInDoubt(batch: batch) {
        case true?: committed(taken)
        case false?: fail(taken, Unreachable(address: address, error: error))
        case nil: fail(taken, OutcomeUnknown("tallyd stopped before it could learn whether its command log took this call"))
        }
    }

    private func committed(_ taken: [Queued]) {
        state.withLock { $0.commits += 1 }
        followerWakes.yield()
        for queued in taken { queued.committed?() }
    }

    func fail(_ taken: [Queued], _ error: any Error) {
        for queued in taken { queued.failed(error) }
    }

    /// Whether batch `batch` of this run is in the log, once PostgreSQL can say; nil when the
    /// log closed first. Proposals that arrive meanwhile fail (they were never sent).
    private func settleInDoubt(batch: Int64) async -> Bool? {
        var delay = Duration.milliseconds(100)
        while !state.withLock({ $0.closed }) {
            do {
                let count = try await withConnection("settle") { [node, boot, logger] in
                    try await $0.single(LogSchema.batchCount(node: node, boot: boot, batch: batch), logger: logger)
                }
                logger.notice("learnt the fate of an append whose connection broke", metadata: ["batch": "\(batch)", "committed": "\(count > 0)"])
                return count > 0
            } catch {
                fail(takeQueued(), Unreachable(address: address, error: error))
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
        return nil
    }
}
