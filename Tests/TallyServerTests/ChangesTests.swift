import Foundation
import TallyClient
@testable import TallyServer
import TallyWire
import Testing

/// Admin/Changes over a real socket: every durable journal record in order with the answer its
/// call got (checked against the answers the callers really got), a resume from the middle,
/// records arriving live, the feed surviving the journal's segments turning over and its
/// snapshots being taken, and the refusals (a position ahead, one pruned, a role).
@Suite struct ChangesTests {
    /// Reads `stream` up to and including its `live` message.
    static func untilLive(_ stream: TallyStream<Tally_V1_JournalChange>) async throws -> [Tally_V1_JournalChange] {
        var got: [Tally_V1_JournalChange] = []
        for try await change in stream {
            got.append(change)
            if change.live { break }
        }
        return got
    }

    @Test func everyRecordComesWithTheAnswerItsCallerGot() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        let client = try await TallyClient.connect(socketPath: scratch.socket)

        let first = try await client.credit(credit("alice", 100, key: "k-1"))
        let again = try await client.credit(credit("alice", 100, key: "k-1"))  // replayed
        let refused = await #expect(throws: TallyError.self) { _ = try await client.spend(spend("alice", 500)) }
        let consumed = try await client.consume(userID: "dave", tokens: 10)
        let spent = try await client.spend(spend("alice", 30))

        let changes = try await Self.untilLive(client.changes(timeoutMs: 30_000))
        let records = changes.filter { !$0.live }
        #expect(records.map(\.sequence) == Array(1...UInt64(records.count)), "dense, in order: \(records.map(\.sequence))")
        #expect(changes.last?.live == true && changes.last?.sequence == UInt64(records.count))
        #expect(records.map(\.method) == [
            Method.credit.rawValue, Method.credit.rawValue, Method.spend.rawValue, Method.consume.rawValue, Method.spend.rawValue,
        ])
        #expect(records.allSatisfy { $0.atUs > 0 && $0.result.callID == 0 && $0.internal.isEmpty })

        // The answers, as the callers got them.
        #expect(try Tally_V1_CreditRequest(serializedBytes: records[0].request) == credit("alice", 100, key: "k-1"))
        #expect(try Tally_V1_CreditResponse(serializedBytes: records[0].result.payload) == first)
        let replay = try Tally_V1_CreditResponse(serializedBytes: records[1].result.payload)
        #expect(replay == again && replay.replayed)
        #expect(records[2].result.code == .failedPrecondition && records[2].result.reason == refused?.reason)
        #expect(records[2].result.details == refused?.details, "\(records[2].result)")
        #expect(try Tally_V1_ConsumeResponse(serializedBytes: records[3].result.payload) == consumed)
        #expect(records[3].usageDay == consumed.status.date && records[0].usageDay.isEmpty)
        #expect(try Tally_V1_SpendResponse(serializedBytes: records[4].result.payload) == spent)
        #expect(records[0].role == "admin" || records[0].role.isEmpty)

        // From the middle: what follows, then live; then new records arrive as they become durable.
        let resumed = client.changes(afterSequence: 3, timeoutMs: 30_000)
        var iterator = resumed.makeAsyncIterator()
        var head: [Tally_V1_JournalChange] = []
        while let change = try await iterator.next() {
            head.append(change)
            if change.live { break }
        }
        #expect(head.map(\.sequence) == [4, 5, 5] && head.last?.live == true)
        let later = try await client.credit(credit("bob", 7))
        let live = try #require(try await iterator.next())
        #expect(live.sequence == 6 && live.method == Method.credit.rawValue)
        #expect(try Tally_V1_CreditResponse(serializedBytes: live.result.payload) == later)
        resumed.cancel()
        let ended = await #expect(throws: TallyError.self) { while try await iterator.next() != nil {} }
        #expect(ended?.code == .cancelled && ended?.details["resume_after"] == "6")

        // A position past the journal's end.
        let ahead = await #expect(throws: TallyError.self) { _ = try await Self.untilLive(client.changes(afterSequence: 99)) }
        #expect(ahead?.reason == "POSITION_AHEAD" && ahead?.details["durable_sequence"] == "6")
        await client.close()
        try await server.shutdown()
    }

    @Test func theFeedFollowsSegmentsAndSnapshotsAndSaysWhenAPositionIsPruned() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // Small segments: the journal turns over every few records, and a second snapshot lets
        // the ones the first covers go.
        let server = try await scratch.start { $0.journalSegmentBytes = 4_096 }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        for n in 0..<60 { _ = try await client.credit(credit("u\(n % 7)", Int64(n + 1))) }
        _ = try await client.unary(.snapshot, Tally_V1_SnapshotRequest(), timeoutMs: 30_000) as Tally_V1_SnapshotResponse
        for n in 60..<120 { _ = try await client.credit(credit("u\(n % 7)", Int64(n + 1))) }
        _ = try await client.unary(.snapshot, Tally_V1_SnapshotRequest(), timeoutMs: 30_000) as Tally_V1_SnapshotResponse
        for n in 120..<150 { _ = try await client.credit(credit("u\(n % 7)", Int64(n + 1))) }
        let segments = try FileManager.default.contentsOfDirectory(atPath: scratch.data + "/journal").filter { $0.hasSuffix(".log") }.sorted()
        #expect(segments.count >= 3 && segments.first != "journal-00000000000000000001.log", "\(segments)")

        // From the first snapshot (60): its state, then every record after it across segments,
        // each balance as the ledger has it.
        let changes = try await Self.untilLive(client.changes(afterSequence: 60, timeoutMs: 30_000))
        let records = changes.filter { !$0.live }
        #expect(records.map(\.sequence) == Array(61...150))
        var expected: [String: Int64] = [:]
        for n in 0..<150 { expected["u\(n % 7)", default: 0] += Int64(n + 1) }
        var last: [String: Int64] = [:]
        for record in records {
            let answer = try Tally_V1_CreditResponse(serializedBytes: record.result.payload)
            last[answer.balance.userID] = answer.balance.available
        }
        #expect(last == expected)

        // Before the oldest snapshot the journal is gone: where to start instead.
        let pruned = await #expect(throws: TallyError.self) { _ = try await Self.untilLive(client.changes(afterSequence: 10)) }
        #expect(pruned?.reason == "POSITION_PRUNED" && pruned?.details["oldest_after"] == "60", "\(String(describing: pruned))")
        await client.close()
        try await server.shutdown()
    }

    @Test func onlyAdminsReadTheFeed() async throws {
        let connection = try await ConnectionChannelTests.Connection(role: .app)
        defer { Task { try await connection.close() } }
        let answers = try await connection.send(try ConnectionChannelTests.request(1, .changes, Tally_V1_ChangesRequest()))
        let answer = try ConnectionChannelTests.response(try #require(answers.first))
        #expect(answer.code == .permissionDenied && !answer.more, "\(answer)")
    }
}
