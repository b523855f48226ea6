import Logging
import Synchronization
import Testing

@testable import TallyServer

/// Refused connections are logged with their uid and the limit they hit, at most one line a
/// second, the next line counting the ones in between.
struct RefusedConnectionLogTests {
    final class Lines: LogHandler, @unchecked Sendable {
        let lines = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(
            level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
            function: String, line: UInt
        ) {
            lines.withLock { $0.append(("\(message)", metadata ?? [:])) }
        }
    }

    @Test func aFloodOfRefusalsIsOneLineASecond() async throws {
        let handler = Lines()
        let logger = Logger(label: "test") { _ in handler }
        let connections = Connections()
        let peer = PeerCredentials(pid: 42, uid: 1234, gid: 1234)
        for _ in 0..<50 { connections.logRefusal("TOO_MANY_CONNECTIONS_FOR_UID", peer: peer, limit: 259, logger: logger) }
        var lines = handler.lines.withLock { $0 }
        #expect(lines.count == 1)
        #expect(lines.first?.message == "refused a connection")
        #expect(lines.first?.metadata["uid"] == "1234" && lines.first?.metadata["limit"] == "259")
        #expect(lines.first?.metadata["reason"] == "TOO_MANY_CONNECTIONS_FOR_UID")
        try await Task.sleep(for: .milliseconds(1_100))
        connections.logRefusal("TOO_MANY_CONNECTIONS", peer: peer, limit: 1_027, logger: logger)
        lines = handler.lines.withLock { $0 }
        #expect(lines.count == 2)
        #expect(lines.last?.metadata["refused_unlogged_since_last"] == "49" && lines.last?.metadata["limit"] == "1027")
    }
}
