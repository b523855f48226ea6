import Logging
import Synchronization
import TallyClient
import TallyWire
import Testing

@testable import TallyServer

/// `--slow-call-ms`: a call held up by a stalled fsync is logged once, with its method, user,
/// call id, and where its time went (the journal, here); the phases add up to the whole.
@Suite struct SlowCallLogTests {
    @Test func aCallHeldByAStalledFsyncIsLoggedOnceWithWhereItsTimeWent() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let io = LoadSheddingTests.StalledIO()
        let handler = RefusedConnectionLogTests.Lines()
        let logger = Logger(label: "tallyd-test") { _ in handler }
        var config = scratch.config { $0.slowCallMilliseconds = 200 }
        config.logLevel = .info
        let server = try await TallyServer.start(config: config, logger: logger, io: io)
        io.stall()
        defer { io.open() }

        let connection = try RawConnection(path: scratch.socket)
        connection.send(try frame(try envelope(Method.credit.rawValue, credit("slowpoke", 5), callID: 77)))
        // Once the Writer holds it, the fsync it waits for stays stalled for 300 ms: the call
        // takes at least that long, however busy this machine is.
        for _ in 0..<500 where server.queuedCalls < 1 { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(300))
        io.open()
        let answer = try #require(try connection.response())
        #expect(answer.callID == 77 && answer.code == .ok)

        // The line is written just after the answer is handed to the socket: wait for it.
        func slowLines() -> [(message: String, metadata: Logger.Metadata)] { handler.lines.withLock { $0 }.filter { $0.message == "slow call" } }
        for _ in 0..<500 where slowLines().isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(50))  // and for a second line, were there one
        let slow = slowLines()
        #expect(slow.count == 1, "logged once: \(slow)")
        let line = try #require(slow.first)
        #expect(line.metadata["method"] == "/tally.v1.Ledger/Credit")
        #expect(line.metadata["user"] == "slowpoke" && line.metadata["call_id"] == "77" && line.metadata["batch"] == "1")
        func ms(_ key: String) -> Double { Double(line.metadata[key]?.description ?? "") ?? -1 }
        #expect(ms("ms") >= 300, "\(line.metadata)")
        #expect(ms("journal_ms") >= 250, "the time went to the journal: \(line.metadata)")
        let phases = ms("queue_ms") + ms("writer_ms") + ms("journal_ms") + ms("write_ms")
        #expect(abs(phases - ms("ms")) <= 0.5, "the phases add up to the whole: \(line.metadata)")
        try await server.shutdown()
    }
}
