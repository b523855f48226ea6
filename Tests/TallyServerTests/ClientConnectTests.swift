import Foundation
import Glibc
import NIOCore
import Testing
import TallyClient

/// TallyClient.connect rides out a full accept backlog (the kernel's EAGAIN for Unix sockets)
/// with backoff, and gives up with that error when the backlog never drains.
@Suite struct ClientConnectTests {
    /// A listening socket that accepts nothing until told to, with its backlog filled up.
    final class FullBacklog {
        let path: String
        let listener: Int32
        var pending: [Int32] = []

        init(_ path: String) throws {
            self.path = path
            listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard withUnixAddress(path, { bind(listener, $0, $1) }) == 0, listen(listener, 1) == 0 else {
                throw POSIXError(.init(rawValue: errno)!)
            }
            while true {  // fill the backlog: non-blocking connects until the kernel says EAGAIN
                let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
                if withUnixAddress(path, { connect(fd, $0, $1) }) != 0 {
                    #expect(errno == EAGAIN)
                    close(fd)
                    break
                }
                pending.append(fd)
            }
        }

        /// Accepts everything waiting, so new connects fit again.
        func drain() {
            _ = fcntl(listener, F_SETFL, fcntl(listener, F_GETFL) | O_NONBLOCK)
            while case let fd = accept(listener, nil, nil), fd >= 0 { pending.append(fd) }
        }

        deinit {
            for fd in pending { close(fd) }
            close(listener)
            unlink(path)
        }
    }

    @Test func connectWaitsForTheBacklogToDrain() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let backlog = try FullBacklog(scratch.socket)
        let connected = Completion()
        let client = Task {
            let client = try await TallyClient.connect(socketPath: scratch.socket, busyRetry: .seconds(10))
            connected.mark()
            return client
        }
        try await Task.sleep(for: .milliseconds(150))
        #expect(!connected.isMarked, "connect must wait while the backlog is full, not succeed at once")
        let filling = backlog.pending.count  // the connections that filled the backlog
        let drained = ContinuousClock.now
        backlog.drain()
        let connection = try await client.value  // throws if it gave up instead of retrying
        #expect(connected.isMarked)
        #expect(ContinuousClock.now - drained < .seconds(5), "it connected soon after the backlog drained")
        backlog.drain()  // the client's connection, if the first drain came before it
        #expect(backlog.pending.count == 2 * filling + 1, "the listener accepted the filling connections and the client's")
        await connection.close()
    }

    /// Set once, from another task.
    final class Completion: @unchecked Sendable {
        private let lock = NSLock()
        private var marked = false
        func mark() { lock.withLock { marked = true } }
        var isMarked: Bool { lock.withLock { marked } }
    }

    @Test func connectGivesUpWithEAGAINWhenTheBacklogStaysFull() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let backlog = try FullBacklog(scratch.socket)
        let started = ContinuousClock.now
        await #expect(throws: IOError.self) {
            try await TallyClient.connect(socketPath: scratch.socket, busyRetry: .milliseconds(300))
        }
        #expect(ContinuousClock.now - started >= .milliseconds(200), "it retried before giving up")
        withExtendedLifetime(backlog) {}
    }
}
