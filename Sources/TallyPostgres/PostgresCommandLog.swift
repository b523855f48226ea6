import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import TallyStore

/// The command log in a PostgreSQL table (`tallyd --journal postgresql://...`).
///
/// Two tasks, each with a connection of its own:
/// - the appender takes every proposal queued while its last INSERT ran and writes them as one
///   row (group commit: one statement, one commit, one WAL flush for all of them);
/// - the follower reads the rows after the last one applied, in order, whenever a commit is
///   notified (LISTEN), this node's own INSERT returns, or a second passes, and hands them to
///   the Writer, waiting until they are applied before it reads on.
///
/// An INSERT whose connection broke before its answer may or may not have committed: its
/// proposals wait until a new connection finds whether the row is there (then the follower
/// brings it back like any other) or not (then they fail). Proposals queued while PostgreSQL is
/// unreachable fail at once: their callers get UNAVAILABLE while reads go on.
public final class PostgresCommandLog: CommandLog {
    public let node: String
    public let boot: Int64
    let address: PostgresAddress
    let logger: Logger

    struct Queued {
        var records: [JournalRecord]
        var proposal: UInt64
        var failed: @Sendable (any Error) -> Void
        var committed: (@Sendable () -> Void)?
    }

    struct State {
        var queued: [Queued] = []
        var head: UInt64 = 0
        /// The last position the follower handed over and saw applied.
        var applied: UInt64 = 0
        var bytesFollowed = 0
        var recordsProposed = 0
        var commits = 0
        var closed = false
        var tasks: [Task<Void, Never>] = []
        /// This node's rows as it appended them, by first position, until the follower applies
        /// them (PostgresCommandLog+Follow.swift).
        var ownRows: [UInt64: (batch: LogBatch, bytes: [UInt8])] = [:]
        /// Every connection open now, so that close() can close them under a query that hangs.
        var connections: [ObjectIdentifier: LogConnection] = [:]
        /// What the appender is doing, for the log at close when it is stuck there.
        var appending: (batch: Int64, since: ContinuousClock.Instant, step: String)?
        /// What the follower is doing, and whether that was reported as stuck (the ticker).
        var following: (step: String, since: ContinuousClock.Instant, reported: Bool) = ("idle", .now, false)
    }

    let state = Mutex(State())
    let appenderWakes: AsyncStream<Void>.Continuation
    let appenderStream: AsyncStream<Void>
    let followerWakes: AsyncStream<Void>.Continuation
    let followerStream: AsyncStream<Void>

    /// Rows read at a time while following.
    static let readLimit: Int64 = 256
    /// Rows deleted by one statement while pruning, and statements per snapshot at most.
    static let pruneLimit: Int64 = 1_000
    static let pruneRounds = 100

    private init(address: PostgresAddress, node: String, head: UInt64, logger: Logger) {
        self.address = address
        self.node = node
        self.logger = logger
        boot = Int64(Date().timeIntervalSince1970 * 1_000_000)
        (appenderStream, appenderWakes) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        (followerStream, followerWakes) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
        state.withLock { $0.head = head }
    }

    /// Connects, creates the tables if they are missing, and registers this node with the
    /// position its snapshot holds (rows after it are kept for it from now on), if the log still
    /// holds the rows after it.
    public static func open(_ address: PostgresAddress, node: String, snapshotSequence: UInt64, logger: Logger) async throws -> PostgresCommandLog {
        let head: UInt64
        do {
            head = try await withConnection(address, logger: logger, purpose: "setup") { log in
                try await log.run { connection in
                    try await connection.query("BEGIN", logger: logger)
                    try await connection.query("SELECT pg_advisory_xact_lock(\(LogSchema.setupLock))", logger: logger)
                    for statement in LogSchema.statements { try await connection.query(statement, logger: logger) }
                    try await connection.query("COMMIT", logger: logger)
                }
                let head = try await log.single(LogSchema.head, logger: logger)
                let oldest = try await log.single(LogSchema.oldest, logger: logger)
                // A node the log can still serve keeps its rows from now on. One it cannot (its
                // rows are gone) is not registered: it will not start, and must not hold every
                // other node's rows for ever.
                if head <= snapshotSequence || (oldest != 0 && oldest <= snapshotSequence + 1) {
                    try await log.run { connection in
                        try await connection.query(
                            LogSchema.register(node: node, applied: Int64(snapshotSequence), snapshot: Int64(snapshotSequence)), logger: logger)
                    }
                }
                return head
            }
        } catch {
            throw StoreError("cannot set up the command log at \(address): \(describe(error))")
        }
        let log = PostgresCommandLog(address: address, node: node, head: head, logger: logger)
        let appender = Task { await log.runAppender() }
        log.state.withLock { $0.tasks.append(appender) }
        return log
    }

    public var head: UInt64 { state.withLock { $0.head } }

    // MARK: Appending

    public func propose(_ records: [JournalRecord], proposal: UInt64, failed: @escaping @Sendable (any Error) -> Void) {
        enqueue(Queued(records: records, proposal: proposal, failed: failed, committed: nil))
    }

    public func append(_ records: [JournalRecord], onDurable: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        enqueue(Queued(records: records, proposal: 0, failed: { onDurable(.failure($0)) }, committed: { onDurable(.success(())) }))
    }

    private func enqueue(_ queued: Queued) {
        let closed = state.withLock { state -> Bool in
            if !state.closed {
                state.queued.append(queued)
                state.recordsProposed += queued.records.count
            }
            return state.closed
        }
        if closed {
            queued.failed(StoreError("the command log is closed: tallyd is shutting down"))
        } else {
            appenderWakes.yield()
        }
    }

    func takeQueued() -> [Queued] {
        state.withLock { state in
            defer { state.queued = [] }
            return state.queued
        }
    }

    // MARK: Snapshots and the rows they cover

    public func rotate() {}

    public func sync() {}

    /// A snapshot now holds everything through `sequence`: recorded as this node's, then the rows
    /// every node's snapshot covers are deleted, a bounded batch at a time.
    public func removeSegments(coveredThrough sequence: UInt64) {
        let task = Task { [address, logger, node] in
            do {
                let applied = state.withLock { $0.applied }
                try await withConnection("prune") { log in
                    try await log.run { connection in
                    try await connection.query(
                        LogSchema.register(node: node, applied: Int64(applied), snapshot: Int64(sequence)), logger: logger)
                    for _ in 0..<Self.pruneRounds {
                        let deleted = try await connection.query(LogSchema.prune(limit: Self.pruneLimit), logger: logger).collect()
                        if deleted.count < Self.pruneLimit { break }
                    }
                    }
                }
            } catch {
                logger.warning("could not record this node's snapshot in the command log", metadata: ["error": "\(Self.describe(error))"])
            }
        }
        state.withLock { $0.tasks.append(task) }
    }

    public var bytesAppended: Int { state.withLock { $0.bytesFollowed } }
    public var recordsAppended: Int { state.withLock { $0.recordsProposed } }
    public var syncs: Int { state.withLock { $0.commits } }

    public func close(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        let (queued, tasks, appending) = state.withLock { state in
            state.closed = true
            defer { state.queued = [] }
            return (state.queued, state.tasks, state.appending)
        }
        if let appending {
            logger.warning(
                "closing the command log during an append", metadata: [
                    "batch": "\(appending.batch)", "step": "\(appending.step)", "for": "\(ContinuousClock.now - appending.since)",
                ])
        }
        fail(queued, StoreError("the command log is closed: tallyd is shutting down"))
        appenderWakes.finish()
        followerWakes.finish()
        // Closing the connections ends any query still waiting (an append PostgreSQL has not
        // confirmed), so every task ends; a few seconds at most all the same.
        Task {
            for task in tasks { task.cancel() }
            for connection in state.withLock({ Array($0.connections.values) }) { await connection.close() }
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for task in tasks { await task.value }
                }
                group.addTask { try? await Task.sleep(for: .seconds(5)) }
                await group.next()
                group.cancelAll()
            }
            done(.success(()))
        }
    }

    public func reopen(nextSequence: UInt64, existingSegments: [UInt64], _ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        done(.success(()))
    }

    // MARK: Connections and errors

    /// A connection that close() will close if it is still open then.
    func connect(_ purpose: String) async throws -> LogConnection {
        let connection = LogConnection(try await Self.connect(address, logger: logger, purpose: purpose))
        let id = ObjectIdentifier(connection)
        let closed = state.withLock { state -> Bool in
            if !state.closed { state.connections[id] = connection }
            return state.closed
        }
        if closed {
            await connection.close()
            throw StoreError("the command log is closed: tallyd is shutting down")
        }
        connection.connection.closeFuture.whenComplete { _ in self.state.withLock { _ = $0.connections.removeValue(forKey: id) } }
        return connection
    }

    /// Runs `body` on a connection of its own, closed after it whatever happens.
    func withConnection<Value: Sendable>(_ purpose: String, _ body: (LogConnection) async throws -> Value) async throws -> Value {
        try await Self.withConnection(connect(purpose), body)
    }

    static func withConnection<Value: Sendable>(
        _ address: PostgresAddress, logger: Logger, purpose: String, _ body: (LogConnection) async throws -> Value
    ) async throws -> Value {
        try await withConnection(LogConnection(connect(address, logger: logger, purpose: purpose)), body)
    }

    private static func withConnection<Value: Sendable>(
        _ connection: LogConnection, _ body: (LogConnection) async throws -> Value
    ) async throws -> Value {
        do {
            let value = try await body(connection)
            await connection.close()
            return value
        } catch {
            await connection.close()
            throw error
        }
    }

    static func connect(_ address: PostgresAddress, logger: Logger, purpose: String) async throws -> PostgresConnection {
        var logger = logger
        logger[metadataKey: "postgres"] = "\(purpose)"
        logger.logLevel = max(logger.logLevel, .notice)
        return try await PostgresConnection.connect(configuration: address.configuration, id: nextConnectionID(), logger: logger)
    }

    private static let connectionIDs = Atomic<Int>(0)

    private static func nextConnectionID() -> Int {
        connectionIDs.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// PostgresNIO's errors describe themselves generically (to keep queries out of logs): the
    /// server's message, or what broke.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo {
            return "PostgreSQL \(info[.sqlState] ?? ""): \(info[.message] ?? "")"
        }
        return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
    }

    /// PostgreSQL cannot be reached: the proposals never entered the log.
    public struct Unreachable: Error, CustomStringConvertible {
        var address: PostgresAddress
        var error: any Error
        public var description: String { "cannot reach the command log at \(address): \(PostgresCommandLog.describe(error))" }
    }

    /// PostgreSQL refused the append (and rolled it back).
    public struct Refused: Error, CustomStringConvertible {
        var error: any Error
        public var description: String { "the command log refused the append: \(PostgresCommandLog.describe(error))" }
    }
}
