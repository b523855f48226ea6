import Foundation
import Glibc
import Testing
import TallyClient
import TallyServer
import TallyWire

/// Clients that hold resources without using them are cut off after the documented timeouts,
/// and connections past the limit are refused with a clear answer; everyone else carries on.
@Suite struct StuckClientTests {
    func start(_ scratch: Scratch, _ change: (inout ServerConfig) -> Void = { _ in }) async throws -> TallyServer {
        try await scratch.start { config in
            config.timeouts = ConnectionTimeouts(idleSeconds: 1, frameSeconds: 1, writeStallSeconds: 1)
            change(&config)
        }
    }

    @Test func idleConnectionIsClosed() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await start(scratch)
        let raw = try RawConnection(path: scratch.socket)  // its reads time out after 10 s
        #expect(try raw.response() == nil, "closed without a frame")
        for _ in 0..<100 where server.connectionCount > 0 {  // the close reaches the registry a moment later
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(server.connectionCount == 0)
        try await server.shutdown()
    }

    @Test func halfAFrameThenSilenceGetsAFinalAnswer() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await start(scratch) { $0.timeouts.idleSeconds = 600 }
        let good = try await TallyClient.connect(socketPath: scratch.socket)
        let raw = try RawConnection(path: scratch.socket)
        let bytes = try frame(try envelope(Method.credit.rawValue, credit("h", 5), callID: 1))
        raw.send(Array(bytes.prefix(bytes.count - 3)))
        let response = try #require(try raw.response())
        #expect(response.callID == 0 && response.code == .deadlineExceeded && response.reason == "FRAME_INCOMPLETE")
        #expect(response.details["received"] == String(bytes.count - 3))
        #expect(raw.isClosedByServer())
        #expect(try await good.getBalance(userID: "h").version == 0, "the half frame was not applied")
        await good.close()
        try await server.shutdown()
    }

    @Test func clientThatNeverReadsIsCutOff() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await start(scratch) { $0.timeouts.idleSeconds = 600 }
        let raw = try RawConnection(path: scratch.socket)
        _ = fcntl(raw.fd, F_SETFL, fcntl(raw.fd, F_GETFL) | O_NONBLOCK)
        let one = try frame(try envelope(Method.getBalance.rawValue, Tally_V1_GetBalanceRequest.with { $0.userID = "n" }, callID: 1))
        let chunk = Array([[UInt8]](repeating: one, count: 1_000).joined())
        var offset = 0
        // A liveness bound, not a timing: the cut-off comes after 1-2 s, but a loaded CI machine
        // (crash and disk-full tests beside it) once stretched it past a 10 s window.
        let until = ContinuousClock.now + .seconds(30)
        var refused = false
        while ContinuousClock.now < until {
            let n = chunk[offset...].withUnsafeBytes { Glibc.send(raw.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset = (offset + n) % chunk.count
            } else if errno == EPIPE || errno == ECONNRESET {
                refused = true  // tallyd closed it
                break
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(refused, "tallyd closed the connection that never read")
        try await server.shutdown()
    }

    /// A client that stops mid-frame gets a final FRAME_INCOMPLETE answer, but one that also never
    /// reads cannot take it: tallyd must close anyway rather than wait forever for that write
    /// (it once did, and the connection stayed open for as long as the client lived).
    @Test func halfAFrameFromAClientThatNeverReadsIsCutOff() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await start(scratch) { $0.timeouts.idleSeconds = 600 }
        let setup = try await TallyClient.connect(socketPath: scratch.socket)
        for i in 0..<100 {
            var request = credit("h", 1, key: "k\(i)")
            request.memo = String(repeating: "m", count: 200)
            _ = try await setup.credit(request)
        }
        await setup.close()
        // The server sees the setup connection close a moment after close() returns: wait, so
        // the count below is the raw connection's alone (it once read 2 in CI).
        for _ in 0..<500 where server.connectionCount > 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(server.connectionCount == 0, "the setup connection is gone")
        // Few small requests whose answers (100 transactions each, about 30 KB) overflow the
        // socket buffers, so tallyd has read everything, holds no reads, and cannot write.
        let raw = try RawConnection(path: scratch.socket)
        let list = Tally_V1_ListTransactionsRequest.with {
            $0.userID = "h"
            $0.limit = 100
        }
        var bytes: [UInt8] = []
        for id in 1...100 {
            bytes += try frame(try envelope(Method.listTransactions.rawValue, list, callID: UInt64(id)))
        }
        let half = try frame(try envelope(Method.getBalance.rawValue, Tally_V1_GetBalanceRequest.with { $0.userID = "h" }, callID: 101))
        raw.send(bytes + half.prefix(3))
        for _ in 0..<500 where server.connectionCount == 0 {  // the registry sees it a moment later
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(server.connectionCount == 1)
        // A liveness bound, not a timing: the cut-off comes after 1-2 s.
        for _ in 0..<1_500 where server.connectionCount > 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(server.connectionCount == 0, "tallyd closed the connection")
        try await server.shutdown()
    }

    @Test func connectionsPastTheLimitAreRefusedWithAnAnswer() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // Run as tallyd's own uid, which would get reserved connections past the limit: none here.
        let server = try await scratch.start {
            $0.maxConnections = 2
            $0.reservedAdminConnections = 0
        }
        let a = try await TallyClient.connect(socketPath: scratch.socket)
        let b = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await a.getBalance(userID: "x")
        _ = try await b.getBalance(userID: "x")
        let raw = try RawConnection(path: scratch.socket)
        let response = try #require(try raw.response())
        #expect(response.callID == 0 && response.code == .resourceExhausted && response.reason == "TOO_MANY_CONNECTIONS")
        #expect(raw.isClosedByServer())
        await b.close()
        // A place is free again once one goes.
        var admitted = false
        for _ in 0..<50 where !admitted {
            if let c = try? await TallyClient.connect(socketPath: scratch.socket), (try? await c.getBalance(userID: "x")) != nil {
                admitted = true
                await c.close()
            } else {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(admitted)
        _ = try await a.getBalance(userID: "x")
        await a.close()
        try await server.shutdown()
    }
}
