import Foundation
import Synchronization
import TallyLedger
import TallyStore

/// A command log in memory that several nodes of one test share, as PostgreSQL's table is
/// shared by `tallyd --journal postgresql://` nodes: rows in one total order with no gaps, each
/// node handed every row in order, its own and the others'. Rows are kept as the bytes
/// `LogBatch.encode` wrote and decoded for each follower, as they are from PostgreSQL.
///
/// `deliverAtMost` cuts what a follower is handed at once at a random number of rows (seeded),
/// so the Writer sees both single rows and long runs of them. With `prunes`, rows every node's
/// snapshot covers are dropped, as PostgreSQL's are; off by default, so that a test may restart a
/// node from an older snapshot than the one it registered (kill -9 never loses a registered
/// snapshot, but a test that removes one to get an older start would find its rows gone).
public final class SharedCommandLog: Sendable {
    struct Row {
        var first: UInt64
        var node: String
        var boot: Int64
        var proposals: [UInt64]
        var bytes: [UInt8]
        var count: Int
        var chain: [UInt8]
    }

    struct State {
        var rows: [Row] = []
        /// Rows before this position were pruned (every registered node's snapshot covers them).
        var oldest: UInt64 = 1
        var head: UInt64 = 0
        /// The chain hash through `head` (the head row's in PostgreSQL).
        var chain: [UInt8] = []
        var snapshots: [String: UInt64] = [:]
        var wakers: [UUID: AsyncStream<Void>.Continuation] = [:]
        var down = false
        /// While holding, appends wait here, neither committed nor failed (an INSERT whose
        /// connection broke, before anyone knows whether it committed).
        var holding = false
        var held: [(records: [JournalRecord], proposals: [UInt64], node: String, boot: Int64)] = []
        var boots: Int64 = 0
        /// Nodes whose followers are handed nothing for now (a node lagging behind the log).
        var lagging: Set<String> = []
        var random: SplitMix64
    }

    let state: Mutex<State>
    let deliverAtMost: Int
    let prunes: Bool

    public init(seed: UInt64 = 1, deliverAtMost: Int = 64, prunes: Bool = false) {
        state = Mutex(State(random: SplitMix64(seed: seed)))
        self.deliverAtMost = deliverAtMost
        self.prunes = prunes
    }

    /// The last position the log holds.
    public var head: UInt64 { state.withLock { $0.head } }

    /// While down, proposals fail (as while PostgreSQL is unreachable) and followers wait.
    public func setDown(_ down: Bool) {
        let wakers = state.withLock { state in
            state.down = down
            return Array(state.wakers.values)
        }
        for waker in wakers { waker.yield() }
    }

    /// From now on appends are held: neither in the log nor failed, as an INSERT in doubt.
    public func hold() {
        state.withLock { $0.holding = true }
    }

    /// Ends holding: the held appends enter the log in order (they had committed), or vanish
    /// (they had not; their proposers already answered, or will never hear).
    public func release(committing: Bool) throws {
        let held = state.withLock { state in
            defer {
                state.holding = false
                state.held = []
            }
            return state.held
        }
        guard committing else { return }
        for row in held { _ = try append(row.records, proposals: row.proposals, node: row.node, boot: row.boot) }
    }

    /// Holds back (or lets go on) what node `node`'s follower is handed: a node lagging behind.
    public func setLagging(_ node: String, _ lagging: Bool) {
        let wakers = state.withLock { state in
            if lagging { state.lagging.insert(node) } else { state.lagging.remove(node) }
            return Array(state.wakers.values)
        }
        for waker in wakers { waker.yield() }
    }

    /// A node's handle on the log, for `TallyServer.start(openCommandLog:)`.
    public func open(node: String, snapshotSequence: UInt64) -> MemoryCommandLog {
        let boot = state.withLock { state in
            state.boots += 1
            if state.head <= snapshotSequence || state.oldest <= snapshotSequence + 1 {
                state.snapshots[node] = snapshotSequence
            }
            return state.boots
        }
        return MemoryCommandLog(shared: self, node: node, boot: boot)
    }

    /// The append's first position, or nil while appends are held.
    func append(_ records: [JournalRecord], proposals: [UInt64], node: String, boot: Int64) throws -> UInt64? {
        let bytes = try LogBatch.encode(records)
        let (first, wakers) = try state.withLock { state -> (UInt64?, [AsyncStream<Void>.Continuation]) in
            guard !state.down else { throw StoreError("the shared command log is down") }
            if state.holding {
                state.held.append((records, proposals, node, boot))
                return (nil, [])
            }
            let first = state.head + 1
            state.chain = LogBatch.chain(after: state.chain, bytes)
            state.rows.append(
                Row(first: first, node: node, boot: boot, proposals: proposals, bytes: bytes, count: records.count, chain: state.chain))
            state.head += UInt64(records.count)
            return (first, Array(state.wakers.values))
        }
        for waker in wakers { waker.yield() }
        return first
    }

    /// What a failover to a standby that lacked the last rows leaves: the log ends at
    /// `position` (the end of a row), and the rows after it are gone for every node.
    public func failOver(keepingThrough position: UInt64) {
        state.withLock { state in
            state.rows.removeAll { $0.first > position }
            precondition(state.rows.last.map { $0.first + UInt64($0.count) - 1 == position } ?? (position == 0), "not the end of a row")
            state.head = position
            state.chain = state.rows.last?.chain ?? []
        }
    }

    /// The rows after `position`, with their bytes; nil when the log no longer holds position + 1.
    func rows(after position: UInt64, for node: String) throws -> [(batch: LogBatch, bytes: [UInt8])]? {
        let rows = try state.withLock { state -> [Row]? in
            guard !state.down else { throw StoreError("the shared command log is down") }
            if state.lagging.contains(node) { return [] }
            guard position >= state.head || position + 1 >= state.oldest else { return nil }
            // Rows are in position order: the first one that ends after `position`.
            var low = 0, high = state.rows.count
            while low < high {
                let middle = (low + high) / 2
                if state.rows[middle].first + UInt64(state.rows[middle].count) - 1 <= position { low = middle + 1 } else { high = middle }
            }
            guard low < state.rows.count else { return [] }
            let start = low
            let count = Int(state.random.next() % UInt64(deliverAtMost)) + 1
            return Array(state.rows[start...].prefix(count))
        }
        return try rows?.map { row in
            let batch = LogBatch(
                firstSequence: row.first, node: row.node, boot: row.boot, proposals: row.proposals,
                records: try LogBatch.decode(row.bytes, firstSequence: row.first), chain: row.chain)
            return (batch, row.bytes)
        }
    }

    func register(node: String, snapshot: UInt64) {
        state.withLock { state in
            state.snapshots[node] = snapshot
            guard prunes, let covered = state.snapshots.values.min() else { return }
            state.rows.removeAll { $0.first + UInt64($0.count) - 1 <= covered }
            state.oldest = max(state.oldest, covered + 1)
        }
    }

    func wake(_ id: UUID, _ waker: AsyncStream<Void>.Continuation?) {
        state.withLock { $0.wakers[id] = waker }
    }
}

/// One node's handle on a `SharedCommandLog`.
public final class MemoryCommandLog: CommandLog {
    public let node: String
    public let boot: Int64
    let shared: SharedCommandLog
    let follower = Mutex<(task: Task<Void, Never>?, waker: AsyncStream<Void>.Continuation?, id: UUID)>((nil, nil, UUID()))
    let counts = Mutex((records: 0, commits: 0))

    init(shared: SharedCommandLog, node: String, boot: Int64) {
        self.shared = shared
        self.node = node
        self.boot = boot
    }

    public var head: UInt64 { shared.head }

    public func propose(_ records: [JournalRecord], proposal: UInt64, failed: @escaping @Sendable (any Error) -> Void) {
        do {
            _ = try shared.append(records, proposals: Array(repeating: proposal, count: records.count), node: node, boot: boot)
            counts.withLock {
                $0.records += records.count
                $0.commits += 1
            }
        } catch {
            // Later, as a PostgreSQL append fails: never inside the Writer's call.
            DispatchQueue.global().async { failed(error) }
        }
    }

    public func append(_ records: [JournalRecord], onDurable: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        propose(records, proposal: 0) { onDurable(.failure($0)) }
    }

    public func follow(
        after sequence: UInt64, chain: [UInt8],
        apply: @escaping @Sendable ([LogBatch], _ applied: @escaping @Sendable () -> Void) -> Void,
        lost: @escaping @Sendable (any Error) -> Void
    ) {
        let (wakes, waker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = follower.withLock { $0.id }
        shared.wake(id, waker)
        let task = Task { [shared, node] in
            var applied = sequence
            var chain = chain
            for await _ in wakes {
                while !Task.isCancelled {
                    let rows: [(batch: LogBatch, bytes: [UInt8])]
                    do {
                        guard let found = try shared.rows(after: applied, for: node) else {
                            lost(StoreError("the command log no longer holds position \(applied + 1)"))
                            return
                        }
                        rows = found
                    } catch {
                        break  // down: the next wake tries again
                    }
                    if rows.isEmpty {
                        // Nothing after it, yet the log ends before it: another history.
                        if shared.head < applied {
                            lost(StoreError("this node's state is at position \(applied) but the command log ends at \(shared.head)"))
                            return
                        }
                        break
                    }
                    if let differs = LogBatch.check(rows, continuing: &chain) {
                        lost(differs)
                        return
                    }
                    let batches = rows.map(\.batch)
                    await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                        apply(batches) { done.resume() }
                    }
                    applied = batches[batches.count - 1].lastSequence
                }
            }
        }
        follower.withLock {
            $0.task = task
            $0.waker = waker
        }
        waker.yield()
    }

    public func rotate() {}
    public func sync() {}

    public func removeSegments(coveredThrough sequence: UInt64) {
        shared.register(node: node, snapshot: sequence)
    }

    public var bytesAppended: Int { 0 }
    public var recordsAppended: Int { counts.withLock { $0.records } }
    public var syncs: Int { counts.withLock { $0.commits } }

    public func close(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        let (task, waker, id) = follower.withLock { ($0.task, $0.waker, $0.id) }
        shared.wake(id, nil)
        waker?.finish()
        task?.cancel()
        done(.success(()))
    }

    public func reopen(nextSequence: UInt64, existingSegments: [UInt64], _ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        done(.failure(StoreError("a command log is not reopened")))
    }
}
