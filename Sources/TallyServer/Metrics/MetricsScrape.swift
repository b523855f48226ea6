import Dispatch
import NIOCore
import TallyLedger

/// A scrape: the gauges read from tallyd's parts as of now, then every metric's text. Shared by
/// `GET /metrics` and Admin/Metrics, so both answer the same figures.
struct MetricsScrape: Sendable {
    let meters: Meters
    let writer: Writer
    let snapshotter: Snapshotter
    let connections: Connections
    let queue: WriterQueue

    /// The Prometheus text. The figures that scan the ledger (users counting today) are read
    /// from a durable copy on a dispatch queue, never on the Writer's turn.
    func text() -> EventLoopFuture<String> {
        let meters = self.meters, writer = self.writer
        meters.queued.set(to: Double(queue.count))
        let byRole = connections.byRole
        for (role, gauge) in meters.connections { gauge.set(to: Double(byRole[role] ?? 0)) }
        let health = writer.health.withLock { $0 }
        meters.accounts.set(to: Double(health.counts.accounts))
        meters.mutationsRefused(health.mutationRefusal)
        meters.residentMemory.set(to: ResidentMemory.bytes())
        let snapshot = snapshotter.lastSnapshot()
        meters.snapshotAge.set(to: Double((NIODeadline.now() - snapshot.at).nanoseconds) / 1e9)
        meters.recordsSinceSnapshot.set(to: Double(health.durableSequence &- min(snapshot.sequence, health.durableSequence)))
        // Without a durable copy (the journal failed and the durable state is being rebuilt, or
        // could not be), the ledger's figures keep their last values: the rest, the refusal
        // first, is what an operator needs to see then.
        return writer.durableCopy().flatMap { _, ledger in
            let promise = writer.loop.makePromise(of: String.self)
            DispatchQueue.global().async {
                let today = UsageEndpoints.today(ledger, writer.wallClock.now())
                meters.usersToday.set(to: Double(ledger.usage.usersCounting(on: today.date)))
                // Double entry: what users hold is what mint, burn and the house do not.
                let held = -(Int128(ledger.mint) + Int128(ledger.burn) + Int128(ledger.house))
                meters.tokensInCirculation.set(to: Double(held))
                promise.succeed(meters.exposition())
            }
            return promise.futureResult
        }.recover { _ in meters.exposition() }
    }
}
