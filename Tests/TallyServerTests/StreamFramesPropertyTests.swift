import Foundation
import NIOCore
import SwiftProtobuf
import TallyTestSupport
import TallyWire
import Testing

@testable import TallyServer

/// Random sequences of stream opens, cancels (of open, ended, unary and never-used call ids,
/// some carrying junk fields), credits and refused watches on one connection (the real
/// ConnectionHandler and Writer on swift-nio's test channel), checked against a model of
/// docs/protocol.md §5.1 after every step: each stream gets its `live` marker and then exactly
/// the changes of its users made since, in order; a cancel of an open stream ends it with
/// CANCELLED and its resume position, any other cancel is answered by nothing; a reused open id
/// is refused STREAM_CALL_ID_IN_USE and the open stream goes on; every unary call gets one
/// answer; the connection stays open; and the Writer holds no watch once all are ended.
/// Fixed seeds; a failure names its seed and step.
@Suite struct StreamFramesPropertyTests {
    struct OpenStream {
        var users: Set<String>
        var live = false
        var lastPosition: UInt64 = 0
        var cancelled = false
    }

    @Test(arguments: 1...12 as ClosedRange<UInt64>)
    func randomStreamAndCancelFramesFollowTheProtocol(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let connection = try await ConnectionChannelTests.Connection(role: .admin)
        defer { Task { try await connection.close() } }
        let users = ["u0", "u1", "u2", "u3"]
        var open: [UInt64: OpenStream] = [:]
        var everUsed: Set<UInt64> = []
        var nextUnary: UInt64 = 1_000
        var lastTransaction: UInt64 = 0

        for step in 0..<80 {
            let context = "seed \(seed), step \(step)"
            let id = UInt64.random(in: 1...10, using: &rng)
            var frames: [Tally_V1_Response] = []
            var expectUnary: UInt64?
            var expectRefusal: (UInt64, String)?
            var opened: (UInt64, Set<String>)?
            var cancelling: UInt64?
            var credited: String?
            switch UInt8.random(in: 0..<10, using: &rng) {
            case 0:  // a unary call on an id that may name an open stream: refused if it does
                if open[id] != nil { expectRefusal = (id, "STREAM_CALL_ID_IN_USE") } else { expectUnary = id }
                frames = try await send(connection, try ConnectionChannelTests.request(id, .getBalance, Tally_V1_GetBalanceRequest.with {
                    $0.userID = users[0]
                }))
            case 1...2:  // open a balance watch (sometimes on an id that is open)
                let watched = Set(users.filter { _ in Bool.random(using: &rng) })
                let request = Tally_V1_WatchBalanceRequest.with { $0.userIds = watched.sorted() }
                if open[id] != nil {
                    expectRefusal = (id, "STREAM_CALL_ID_IN_USE")
                } else if watched.isEmpty {
                    expectRefusal = (id, "WATCH_USERS_MISSING")
                } else {
                    opened = (id, watched)
                }
                everUsed.insert(id)
                frames = try await send(connection, try ConnectionChannelTests.request(id, .watchBalance, request, timeoutMs: 60_000))
            case 3...4:  // a cancel, of whatever the id names now; some carry junk beside it
                var cancel = Tally_V1_Request.with {
                    $0.callID = id
                    $0.cancel = true
                }
                if Bool.random(using: &rng) {
                    cancel.method = "/tally.v1.Ledger/Credit"
                    cancel.payload = Data((0..<Int.random(in: 0...12, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
                    cancel.protocolVersion = UInt32.random(in: 0...3, using: &rng)
                }
                if open[id] != nil { cancelling = id }
                frames = try await send(connection, try ConnectionChannelTests.frame(cancel))
            default:  // a credit: a change for the watches of its user
                let user = users[Int.random(in: 0..<users.count, using: &rng)]
                credited = user
                nextUnary += 1
                expectUnary = nextUnary
                frames = try await send(connection, try ConnectionChannelTests.request(nextUnary, .credit, Tally_V1_CreditRequest.with {
                    $0.userID = user
                    $0.amount = Int64.random(in: 1...100, using: &rng)
                    $0.kind = .grant
                }))
                lastTransaction += 1
            }
            if let (id, watched) = opened { open[id] = OpenStream(users: watched) }

            var unaryAnswers = 0
            var refusals = 0
            for frame in frames {
                if frame.callID == expectUnary, frame.callID < 1_000 {
                    #expect(frame.code == .ok && !frame.more, "\(context): \(frame)")
                    unaryAnswers += 1
                    continue
                }
                if frame.callID >= 1_000 {
                    #expect(frame.callID == expectUnary && frame.code == .ok && !frame.more, "\(context): \(frame)")
                    if frame.callID == expectUnary {
                        let credit = try Tally_V1_CreditResponse(serializedBytes: frame.payload)
                        #expect(credit.transaction.id == lastTransaction, "\(context)")
                    }
                    unaryAnswers += 1
                    continue
                }
                if let (refusedID, reason) = expectRefusal, frame.callID == refusedID, !frame.more, frame.reason == reason {
                    refusals += 1
                    continue
                }
                guard var stream = open[frame.callID] else {
                    Issue.record("\(context): a frame for call \(frame.callID), which has no open stream: \(frame)")
                    continue
                }
                if frame.more {
                    let change = try Tally_V1_BalanceChange(serializedBytes: frame.payload)
                    if !stream.live {
                        #expect(change.live, "\(context): the first message of stream \(frame.callID) is not live: \(change)")
                        stream.live = true
                    } else {
                        #expect(!change.live && stream.users.contains(change.transaction.userID), "\(context): \(change)")
                        #expect(change.position > stream.lastPosition && change.position == lastTransaction, "\(context): \(change)")
                    }
                    stream.lastPosition = change.position
                    open[frame.callID] = stream
                } else {
                    #expect(frame.callID == cancelling, "\(context): stream \(frame.callID) ended unasked: \(frame)")
                    #expect(frame.code == .cancelled && frame.reason == "CANCELLED", "\(context): \(frame)")
                    #expect(frame.details["resume_after"] == String(stream.lastPosition), "\(context): \(frame)")
                    open[frame.callID] = nil
                }
            }
            #expect(unaryAnswers == (expectUnary == nil ? 0 : 1), "\(context): \(unaryAnswers) answers to one credit")
            #expect(refusals == (expectRefusal == nil ? 0 : 1), "\(context): refusal \(String(describing: expectRefusal)) not seen")
            if let user = credited {
                for (id, stream) in open where stream.users.contains(user) {
                    #expect(stream.lastPosition == lastTransaction, "\(context): stream \(id) missed the change of \(user)")
                }
            }
            if let id = cancelling { #expect(open[id] == nil, "\(context): cancelled stream \(id) still open") }
            // Every open stream got its live marker, and each change of its users since.
            if let (id, _) = opened { #expect(open[id]?.live == true, "\(context): stream \(id) got no live marker") }
            #expect(connection.channel.isActive, "\(context): the connection was closed")
        }
        #expect(!everUsed.isEmpty)

        // End the rest: each answers CANCELLED; then the Writer holds no watch.
        for id in open.keys.sorted() {
            let frames = try await send(connection, try ConnectionChannelTests.frame(Tally_V1_Request.with {
                $0.callID = id
                $0.cancel = true
            }))
            #expect(frames.count == 1 && frames.first?.code == .cancelled, "seed \(seed): ending \(id): \(frames)")
        }
        await connection.channel.testingEventLoop.run()
        #expect(await connection.writer.balanceWatchCount == 0, "seed \(seed): watches left on the Writer")
    }

    func send(_ connection: ConnectionChannelTests.Connection, _ bytes: [UInt8]) async throws -> [Tally_V1_Response] {
        try await connection.send(bytes).map { try Tally_V1_Response(serializedBytes: $0) }
    }
}
