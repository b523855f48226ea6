import Logging
import NIOCore
import PostgresNIO
import Synchronization
import TallyStore

/// A PostgreSQL connection whose queries always end. PostgresNIO can leave a query written to a
/// connection that is closing under it (PostgreSQL killed) unanswered for ever: seen here as a
/// follower waiting on its read while PostgreSQL had been restarted long before. So every query
/// runs as a task of its own, and one second after the connection closes, whatever still waits
/// is failed, as a broken connection would have been.
final class LogConnection: Sendable {
    let connection: PostgresConnection
    private struct Waits {
        var next: UInt64 = 0
        var failers: [UInt64: @Sendable (any Error) -> Void] = [:]
        var closed = false
    }

    private let waits = Mutex(Waits())

    struct Lost: Error, CustomStringConvertible {
        var description: String { "the connection to PostgreSQL closed with this query unanswered" }
    }

    init(_ connection: PostgresConnection) {
        self.connection = connection
        connection.closeFuture.whenComplete { _ in
            connection.eventLoop.scheduleTask(in: .seconds(1)) { self.failWaiting() }
        }
    }

    private func failWaiting() {
        let failers = waits.withLock { waits in
            waits.closed = true
            defer { waits.failers = [:] }
            return Array(waits.failers.values)
        }
        for fail in failers { fail(Lost()) }
    }

    var isClosed: Bool { connection.isClosed }

    func close() async {
        try? await connection.close()
    }

    /// `body` on the connection; its answer, or Lost once the connection closed without one.
    func run<Value: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Value, any Error>) in
            let resumed = Mutex(false)
            let finish: @Sendable (Result<Value, any Error>) -> Void = { result in
                let first = resumed.withLock { done in
                    defer { done = true }
                    return !done
                }
                if first { continuation.resume(with: result) }
            }
            let id = waits.withLock { waits -> UInt64? in
                guard !waits.closed else { return nil }
                waits.next += 1
                waits.failers[waits.next] = { finish(.failure($0)) }
                return waits.next
            }
            guard let id else {
                finish(.failure(Lost()))
                return
            }
            let connection = self.connection
            Task {
                let result: Result<Value, any Error>
                do {
                    result = .success(try await body(connection))
                } catch {
                    result = .failure(error)
                }
                _ = self.waits.withLock { $0.failers.removeValue(forKey: id) }
                finish(result)
            }
        }
    }

    /// An append's answer: the row's first position and chain hash.
    func appended(_ query: PostgresQuery, logger: Logger) async throws -> (first: UInt64, chain: [UInt8]) {
        try await firstRow(query, logger: logger) { row in
            let (first, chain) = try row.decode((Int64, ByteBuffer).self)
            return (UInt64(max(0, first)), Array(buffer: chain))
        }
    }

    /// Returns once PostgreSQL has finished the statement before this one, commit included
    /// (its ReadyForQuery came): PostgresNIO runs this only after it.
    func confirmCommitted(logger: Logger) async throws {
        _ = try await single("SELECT 1", logger: logger)
    }

    /// The one number a query answers.
    func single(_ query: PostgresQuery, logger: Logger) async throws -> UInt64 {
        try await firstRow(query, logger: logger) { UInt64(max(0, try $0.decode(Int64.self))) }
    }

    /// The first row a query answers, decoded. Every row stream is read to its end: one left
    /// unread would hold the connection's next query back.
    private func firstRow<Value: Sendable>(
        _ query: PostgresQuery, logger: Logger, _ decode: @escaping @Sendable (PostgresRow) throws -> Value
    ) async throws -> Value {
        try await run { connection in
            let rows = try await connection.query(query, logger: logger).collect()
            guard let row = rows.first else { throw StoreError("the command log answered no row to \(query.sql)") }
            return try decode(row)
        }
    }
}
