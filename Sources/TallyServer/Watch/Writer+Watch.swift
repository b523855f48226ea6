import Dispatch
import NIOCore
import TallyLedger
import TallyWire

extension Writer {
    /// Starts a balance watch of `users` (nil: every user), from now or, with `resumeAfter`,
    /// with every durable change after that position first. `sink` runs on the Writer's loop;
    /// the future gives the watch's key, for `endWatch` (nil: it ended at once, the sink was
    /// told why).
    nonisolated func watchBalances(users: Set<String>?, resumeAfter: UInt64?, sink: @escaping WatchSink) -> EventLoopFuture<WatchKey?> {
        let promise = loop.makePromise(of: WatchKey?.self)
        onLoop { writer in
            let id = writer.startWatch(users: users, resumeAfter: resumeAfter, sink: sink)
            promise.succeed(id == 0 ? nil : .balance(id))
        }
        return promise.futureResult
    }

    /// Its client ended watch `key` (a cancel, a closed connection): nothing more is sent.
    /// Always a task of its own, even on the loop: the client's side may end a watch from
    /// inside a delivery to it.
    nonisolated func endWatch(_ key: WatchKey) {
        loop.execute {
            self.assumeIsolated { writer in
                switch key {
                case .balance(let id): writer.balanceWatchers.remove(id)
                case .usage(let id): writer.removeUsageWatch(id)
                }
            }
        }
    }

    /// Watches registered now, for health and tests.
    var balanceWatchCount: Int { balanceWatchers.count }

    /// The most resumed changes one watch call sends; past them it ends RESUME_IN_PARTS with
    /// the position to resume after, so a resume never holds more than this in memory.
    static let resumeLimit = 100_000

    private func startWatch(users: Set<String>?, resumeAfter: UInt64?, sink: @escaping WatchSink) -> UInt64 {
        if let refusal = mutationRefusal, refusal == "DATA_DIRECTORY_REPLACED" || refusal == "SHUTTING_DOWN" {
            sink(.ended(StreamEnd(code: .unavailable, reason: refusal, message: "tallyd is stopping; watch the next instance")))
            return 0
        }
        let through = durableTransaction
        guard let after = resumeAfter else {
            let id = balanceWatchers.add(users: users, catchingUp: false, sink: sink)
            sink(.items([.live(position: through)]))
            return id
        }
        guard after <= through else {
            sink(.ended(StreamEnd(
                code: .outOfRange, reason: "POSITION_AHEAD",
                message: "position \(after) is past the last durable change, \(through): this tallyd never made it durable; read the balances again and watch from now",
                details: ["after_position": String(after), "last_position": String(through)])))
            return 0
        }
        let id = balanceWatchers.add(users: users, catchingUp: true, sink: sink)
        // Read off the loop from the state as of now: transactions up to `through` never change
        // (a later archive command may drop some: they read as archived).
        let ledger = currentLedger()
        DispatchQueue.global().async {
            let resumed = Self.resumedChanges(ledger, users: users, after: after, through: through)
            self.onLoop { writer in
                switch resumed {
                case .failure(let end):
                    writer.balanceWatchers.end(id, end)
                case .success(let (changes, complete)):
                    if !changes.isEmpty { writer.balanceWatchers.send(id, changes) }
                    if complete {
                        writer.balanceWatchers.caughtUp(id, position: through)
                    } else {
                        let last = changes.last?.id ?? after
                        writer.balanceWatchers.end(id, StreamEnd(
                            code: .resourceExhausted, reason: "RESUME_IN_PARTS",
                            message: "more than \(Self.resumeLimit) changes to resume: these are the first; resume again after \(last)",
                            details: ["resume_after": String(last), "limit": String(Self.resumeLimit)]))
                    }
                }
            }
        }
        return id
    }

    /// The transactions after `after` through `through` of `users`, at most `resumeLimit`
    /// (complete: false when there were more), or why they cannot be had.
    private static func resumedChanges(
        _ ledger: Ledger, users: Set<String>?, after: UInt64, through: UInt64
    ) -> Result<([Transaction], complete: Bool), StreamEnd> {
        var changes: [Transaction] = []
        var id = after
        while id < through {
            id += 1
            guard let transaction = ledger.transactions[id] else {
                return .failure(StreamEnd(
                    code: .failedPrecondition, reason: "POSITION_ARCHIVED",
                    message: "the changes after position \(after) are no longer all in memory (transaction \(id) was archived): read the balances again and watch from now",
                    details: ["after_position": String(after), "archived": String(id)]))
            }
            guard users?.contains(transaction.userID) ?? true else { continue }
            if changes.count == resumeLimit { return .success((changes, false)) }
            changes.append(transaction)
        }
        return .success((changes, true))
    }

    /// Sends the watches the durable transactions after `after` (journaled(through:)).
    func deliverToWatches(after: UInt64) {
        let ledger = currentLedger()
        var transactions: [Transaction] = []
        transactions.reserveCapacity(Int(durableTransaction - after))
        for id in (after + 1)...durableTransaction {
            if let transaction = ledger.transactions[id] { transactions.append(transaction) }
        }
        balanceWatchers.deliver(transactions)
    }
}
