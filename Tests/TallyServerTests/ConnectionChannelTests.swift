import Foundation
import Logging
import NIOCore
import NIOEmbedded
import SwiftProtobuf
import TallyCodec
import TallyLedger
import TallyStore
import TallyWire
import Testing

@testable import TallyServer

/// The connection path on swift-nio's test channel (NIOAsyncTestingChannel, the thread-safe
/// EmbeddedChannel, since the Writer runs on its loop as its executor): frames in, the real
/// ConnectionHandler and Writer (journal-less), frames out, checked byte by byte. The same calls
/// over a real socket are the end-to-end suites; these pin down what one connection writes for
/// what it reads, with nothing between.
@Suite struct ConnectionChannelTests {
    final class Connection: @unchecked Sendable {
        let channel: NIOAsyncTestingChannel
        let writer: Writer
        let snapshotThreads: SnapshotThreads
        let scratch: Scratch
        let meters = Meters()
        private var pending = ByteBuffer()

        init(role: Role = .admin, ledger: Ledger = Ledger()) async throws {
            scratch = try Scratch()
            let logger = Logger(label: "channel-test")
            let loop = NIOAsyncTestingEventLoop()
            channel = NIOAsyncTestingChannel(loop: loop)
            let journal = SnapshotsOnly()
            let writer = Writer(ledger: ledger, nextSequence: 1, loop: loop, journal: journal, snapshots: SnapshotPolicy(), logger: logger)
            self.writer = writer
            snapshotThreads = SnapshotThreads(logger: logger)
            try FileManager.default.createDirectory(atPath: scratch.data, withIntermediateDirectories: true)
            let snapshotter = Snapshotter(
                writer: writer, journal: journal, directory: try StoreDirectory(opening: scratch.data), directoryID: DirectoryID.random(),
                policy: SnapshotPolicy(intervalSeconds: 0, journalBytes: 0), threads: snapshotThreads, lastSequence: 0, logger: logger)
            let queue = WriterQueue(limit: 65_536)
            let connections = Connections()
            let health = Health(
                writer: writer, snapshotter: snapshotter, connections: connections, queue: queue, startedAt: .now(),
                dataDirectory: scratch.data)
            let channel = self.channel
            let meters = self.meters
            try await loop.executeInContext {
                let meter = ByteMeter()
                try channel.pipeline.syncOperations.addHandler(meter)
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: 64 * 1024)))
                try channel.pipeline.syncOperations.addHandler(
                    ConnectionHandler(
                        writer: writer, snapshotter: snapshotter, health: health, role: role,
                        peer: PeerCredentials(pid: 1, uid: 1_000, gid: 1_000), queue: queue, maxCallsInFlight: 1_024,
                        auditUsageCalls: false, meter: meter, timeouts: ConnectionTimeouts(), logger: logger,
                        metrics: MetricsScrape(meters: meters, writer: writer, snapshotter: snapshotter, connections: connections, queue: queue)))
            }
            try await channel.connect(to: SocketAddress(unixDomainSocketPath: "/embedded"))
        }

        func close() async throws {
            _ = try? await channel.finish()
            try await snapshotThreads.shutdownGracefully()
            scratch.remove()
        }

        /// The Writer's Ledger once everything sent so far is applied.
        func ledger() async throws -> Ledger {
            try await writer.durableCopy().get().ledger
        }

        /// Sends `bytes` as one read, lets the loop run, and returns every whole frame written back.
        func send(_ bytes: [UInt8]) async throws -> [[UInt8]] {
            try await channel.writeInbound(ByteBuffer(bytes: bytes))
            await channel.testingEventLoop.run()
            var frames: [[UInt8]] = []
            for buffer in try await writes() { pending.writeImmutableBuffer(buffer) }
            while let frame = try FrameDecoder(maxFrameBytes: 1 << 20).nextFrame(&pending) {
                frames.append(Array(frame.readableBytesView))
            }
            return frames
        }

        /// Each buffer written to the socket since the last look.
        func writes() async throws -> [ByteBuffer] {
            var buffers: [ByteBuffer] = []
            while let out = try await channel.readOutbound(as: ByteBuffer.self) { buffers.append(out) }
            return buffers
        }
    }

    /// A whole frame: the 4-byte big-endian length, then the message.
    static func frame(_ message: some SwiftProtobuf.Message) throws -> [UInt8] {
        let body: [UInt8] = try message.serializedBytes()
        return withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init) + body
    }

    static func request(_ id: UInt64, _ method: TallyWire.Method, _ body: some SwiftProtobuf.Message, timeoutMs: UInt32 = 0) throws -> [UInt8] {
        try frame(Tally_V1_Request.with {
            $0.callID = id
            $0.protocolVersion = 1
            $0.method = method.rawValue
            $0.timeoutMs = timeoutMs
            $0.payload = try body.serializedBytes()
        })
    }

    static func response(_ bytes: [UInt8]) throws -> Tally_V1_Response {
        try Tally_V1_Response(serializedBytes: bytes)
    }

    @Test func aCreditIsAnsweredWithExactlyTheBytesOfItsReceipt() async throws {
        let connection = try await Connection(role: .app)
        defer { Task { try await connection.close() } }
        // CreditRequest{user_id: "ann", amount: 5, kind: GRANT(2)}, framed by hand: length 0x1A.
        let payload: [UInt8] = [0x0A, 0x03, 0x61, 0x6E, 0x6E, 0x10, 0x05, 0x18, 0x02]
        let credit = try Tally_V1_CreditRequest(serializedBytes: payload)
        let answers = try await connection.send(try Self.request(9, .credit, credit))
        #expect(answers.count == 1)
        let ledger = try await connection.ledger()
        let transaction = try #require(ledger.transactions[1])
        let expected = try Tally_V1_Response.with {
            $0.callID = 9
            $0.payload = try Tally_V1_CreditResponse.with {
                $0.transaction = Tally_V1_Transaction(transaction)
                $0.balance = Tally_V1_Balance(ledger.balance(of: "ann"))
            }.serializedBytes()
        }
        #expect(answers.first == (try expected.serializedBytes() as [UInt8]), "the answer is the receipt, byte for byte")
        #expect(ledger.balance(of: "ann").account.available == 5)
    }

    @Test func callsSentInOneReadAreAnsweredInOrderInOneWrite() async throws {
        let connection = try await Connection(role: .app)
        defer { Task { try await connection.close() } }
        var bytes: [UInt8] = []
        for id in 1...5 as ClosedRange<UInt64> {
            bytes += try Self.request(id, .credit, Tally_V1_CreditRequest.with {
                $0.userID = "p"
                $0.amount = Int64(id)
                $0.kind = .grant
            })
        }
        bytes += try Self.request(6, .getBalance, Tally_V1_GetBalanceRequest.with { $0.userID = "p" })
        try await connection.channel.writeInbound(ByteBuffer(bytes: bytes))
        await connection.channel.testingEventLoop.run()
        let writes = try await connection.writes()
        var collected = ByteBuffer()
        for buffer in writes { collected.writeImmutableBuffer(buffer) }
        #expect(writes.count == 1, "one write for the batch")
        var frames: [Tally_V1_Response] = []
        while let frame = try FrameDecoder().nextFrame(&collected) { frames.append(try Tally_V1_Response(serializedBytes: frame)) }
        #expect(frames.map(\.callID) == [1, 2, 3, 4, 5, 6])
        #expect(frames.allSatisfy { $0.code == .ok })
        let balance = try Tally_V1_GetBalanceResponse(serializedBytes: frames[5].payload)
        #expect(balance.balance.available == 15, "the read sees every credit before it in the batch")
        #expect(connection.meters.durations.count(ordinal: TallyWire.Method.credit.ordinal) == 5, "every call is timed")
        #expect(connection.meters.durations.count(ordinal: TallyWire.Method.getBalance.ordinal) == 1)
    }

    @Test func aFrameSplitAcrossReadsIsOneCall() async throws {
        let connection = try await Connection(role: .app)
        defer { Task { try await connection.close() } }
        let bytes = try Self.request(4, .getBalance, Tally_V1_GetBalanceRequest.with { $0.userID = "s" })
        #expect(try await connection.send(Array(bytes[..<3])).isEmpty)
        #expect(try await connection.send(Array(bytes[3..<9])).isEmpty)
        let answers = try await connection.send(Array(bytes[9...]))
        #expect(answers.count == 1)
        #expect(try Self.response(try #require(answers.first)).callID == 4)
    }

    /// Every method the Writer answers, sent an empty request by an admin: one answer with the
    /// call's id, a precise status (never INTERNAL), and the connection stays open.
    @Test func everyWriterMethodAnswersAnEmptyRequestPrecisely() async throws {
        let connection = try await Connection(role: .admin)
        defer { Task { try await connection.close() } }
        var id: UInt64 = 0
        for endpoint in Endpoints.all {
            guard case .writer? = try? endpoint.decode(Data(), .admin) else { continue }
            id += 1
            let answers = try await connection.send(try Self.frame(Tally_V1_Request.with {
                $0.callID = id
                $0.protocolVersion = 1
                $0.method = endpoint.method.rawValue
            }))
            #expect(answers.count == 1, "\(endpoint.method.rawValue)")
            guard let first = answers.first else { continue }
            let response = try Self.response(first)
            #expect(response.callID == id, "\(endpoint.method.rawValue)")
            #expect(response.code != .internal && response.code != .unknown, "\(endpoint.method.rawValue): \(response)")
            #expect(response.code == .ok || !response.reason.isEmpty, "\(endpoint.method.rawValue): a refusal names its reason")
            #expect(connection.channel.isActive, "\(endpoint.method.rawValue) left the connection open")
        }
        #expect(id >= 20, "the table's Writer methods were all tried (\(id))")
    }

    @Test func aRoleThatMayNotCallAMethodIsRefusedAndTheRefusalIsAudited() async throws {
        let connection = try await Connection(role: .readOnly)
        defer { Task { try await connection.close() } }
        let answers = try await connection.send(try Self.request(3, .credit, Tally_V1_CreditRequest.with {
            $0.userID = "r"
            $0.amount = 1
            $0.kind = .grant
        }))
        let response = try Self.response(try #require(answers.first))
        #expect(response.callID == 3 && response.code == .permissionDenied, "\(response)")
        let ledger = try await connection.ledger()
        #expect(ledger.balance(of: "r").account.available == 0)
        let entry = try #require(ledger.auditEntries(AuditFilter(), limit: 1).first)
        #expect(entry.reason == "ROLE_FORBIDDEN" || entry.code == Int32(Tally_V1_Code.permissionDenied.rawValue), "the refusal is in the audit log: \(entry)")
    }

    @Test func anUnknownMethodIsUnimplementedAndTheConnectionGoesOn() async throws {
        let connection = try await Connection()
        defer { Task { try await connection.close() } }
        let answers = try await connection.send(try Self.frame(Tally_V1_Request.with {
            $0.callID = 8
            $0.protocolVersion = 1
            $0.method = "/tally.v1.Ledger/Nope"
        }) + Self.request(9, .getBalance, Tally_V1_GetBalanceRequest.with { $0.userID = "x" }))
        let responses = try answers.map(Self.response)
        #expect(responses.map(\.callID) == [8, 9])
        #expect(responses.first?.code == .unimplemented)
        #expect(responses.last?.code == .ok)
        #expect(connection.channel.isActive)
    }

    /// Reads that scan the state are answered off the Writer, on a durable copy, and still come
    /// back on the connection in answer to their own call ids.
    @Test func scansAndHealthAreAnsweredOffTheWriter() async throws {
        let connection = try await Connection(role: .admin)
        defer { Task { try await connection.close() } }
        _ = try await connection.send(try Self.request(1, .credit, Tally_V1_CreditRequest.with {
            $0.userID = "h"
            $0.amount = 7
            $0.kind = .grant
        }))
        var answers = try await connection.send(
            try Self.request(2, .listTransactions, Tally_V1_ListTransactionsRequest.with { $0.userID = "h" })
                + Self.request(3, .health, Tally_V1_HealthRequest()))
        for _ in 0..<100 where answers.count < 2 {
            try await Task.sleep(for: .milliseconds(10))  // the scan runs on another thread
            answers += try await connection.send([])
        }
        let responses = try answers.map(Self.response)
        #expect(Set(responses.map(\.callID)) == [2, 3])
        let listed = try #require(responses.first { $0.callID == 2 })
        let history = try Tally_V1_ListTransactionsResponse(serializedBytes: listed.payload)
        #expect(history.transactions.map(\.amount) == [7] && history.transactions.first?.userID == "h")
        let health = try Tally_V1_HealthResponse(serializedBytes: try #require(responses.first { $0.callID == 3 }).payload)
        #expect(health.acceptingMutations)
    }

    /// A read's calls are timed from that read's bytes, also when none of them goes to the
    /// Writer: a connection that only reads off it must not time a call from an earlier read.
    @Test func eachReadIsTimedFromItsOwnBytes() async throws {
        let connection = try await Connection(role: .admin)
        defer { Task { try await connection.close() } }
        func health(_ id: UInt64) async throws {
            var answers = try await connection.send(try Self.request(id, .health, Tally_V1_HealthRequest()))
            for _ in 0..<500 where answers.isEmpty {
                try await Task.sleep(for: .milliseconds(10))  // answered on another thread
                answers += try await connection.send([])
            }
            #expect(answers.count == 1)
        }
        func seconds() -> Double {
            MetricsTests.value(#"tally_call_duration_seconds_sum{method="Admin/Health"}"#, in: connection.meters.exposition()) ?? 0
        }
        try await health(1)
        try await Task.sleep(for: .milliseconds(300))  // the first read is long past
        let before = seconds()
        let start = ContinuousClock.now
        try await health(2)
        let observed = ContinuousClock.now - start
        let recorded = seconds() - before
        #expect(recorded <= Double(observed.components.seconds) + Double(observed.components.attoseconds) / 1e18,
                "the second call was timed \(recorded) s, but it was sent and answered within \(observed)")
        #expect(connection.meters.durations.count(ordinal: TallyWire.Method.health.ordinal) == 2)
    }

    /// Bytes that are not a Request, and a Request without a call id: one final answer on call
    /// id 0 naming the reason, then the connection is closed.
    @Test(arguments: [
        ([UInt8]([0x00, 0x00, 0x00, 0x03, 0xFF, 0xFF, 0xFF]), "MALFORMED_FRAME"),
        (try! ConnectionChannelTests.frame(Tally_V1_Request.with { $0.protocolVersion = 1; $0.method = TallyWire.Method.getBalance.rawValue }), "CALL_ID_MISSING"),
        ([UInt8]([0x00, 0x02, 0x00, 0x00]), "FRAME_TOO_LARGE"),
    ])
    func aBrokenFrameGetsOneFinalAnswerAndTheConnectionCloses(bytes: [UInt8], reason: String) async throws {
        let connection = try await Connection()
        defer { Task { try await connection.close() } }
        let answers = try await connection.send(bytes)
        let response = try Self.response(try #require(answers.first))
        #expect(answers.count == 1)
        #expect(response.callID == 0 && response.reason == reason, "\(response)")
        #expect(!connection.channel.isActive, "closed after \(reason)")
    }
}
