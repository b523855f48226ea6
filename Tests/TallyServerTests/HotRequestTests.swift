import Foundation
import NIOCore
import SwiftProtobuf
import TallyLedger
import TallyWire
import TallyTestSupport
import Testing

@testable import TallyServer

/// The hot requests' own decoder (HotRequests) takes a frame only when swift-protobuf and
/// CallDecoding would make the same call of it; everything else it leaves to them. Checked on
/// well-formed requests and on random damage to them (fixed seed).
@Suite struct HotRequestTests {
    static let seed: UInt64 = 0x40_7EA0_0000_0001

    /// What a call amounts to, to compare the two decoders' results.
    func summary(_ call: WriterCall) -> String {
        "\(call.callID) \(call.method) deadline:\(call.deadline != nil) \(call.operation)"
    }

    func general(_ bytes: [UInt8], role: Role) -> String? {
        guard let request = try? Tally_V1_Request(serializedBytes: bytes), request.callID != 0,
            case .call(let call) = CallDecoding.decode(request, role: role)
        else { return nil }
        return summary(call)
    }

    func hot(_ bytes: [UInt8], role: Role) -> String? {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        return HotRequests.decode(buffer, role: role).map(summary)
    }

    func request(_ numbers: inout SplitMix64) throws -> [UInt8] {
        let users = ["", "ann", "ann ✓", "user-\(numbers.next() % 10_000)", String(repeating: "x", count: 300), "bad\u{0}id"]
        let user = users[Int(numbers.next() % UInt64(users.count))]
        let payload: any SwiftProtobuf.Message
        let method: Method
        switch numbers.next() % 4 {
        case 0:
            method = .consume
            payload = Tally_V1_ConsumeRequest.with {
                $0.userID = user
                $0.tokens = [0, 1, -5, .max, .min, Int64(numbers.next() % 1000)][Int(numbers.next() % 6)]
                $0.idempotencyKey = numbers.next() % 2 == 0 ? "" : "k\(numbers.next())"
            }
        case 1:
            method = .getBalance
            payload = Tally_V1_GetBalanceRequest.with { $0.userID = user }
        case 2:
            method = .checkUsage
            payload = Tally_V1_CheckUsageRequest.with { $0.userID = user }
        default:
            method = .spend
            payload = Tally_V1_SpendRequest.with {
                $0.userID = user
                $0.amount = 3
            }
        }
        let envelope = Tally_V1_Request.with {
            $0.callID = [0, 1, 300, .max][Int(numbers.next() % 4)]
            $0.protocolVersion = numbers.next() % 10 == 0 ? 7 : WireProtocol.version
            $0.method = method.rawValue
            $0.timeoutMs = numbers.next() % 3 == 0 ? UInt32(numbers.next() % 5_000) : 0
            $0.payload = (try? payload.serializedData()) ?? Data()
        }
        return try envelope.serializedBytes()
    }

    @Test func takesOnlyWhatTheGeneralPathTakesTheSameWay() throws {
        var numbers = SplitMix64(seed: Self.seed)
        var taken = 0, damaged = 0
        for round in 0..<20_000 {
            var bytes = try request(&numbers)
            if round % 2 == 1 {
                damaged += 1
                switch numbers.next() % 4 {
                case 0 where !bytes.isEmpty: bytes[Int(numbers.next() % UInt64(bytes.count))] ^= UInt8(1 << (numbers.next() % 8))
                case 1 where !bytes.isEmpty: bytes.removeLast(Int(numbers.next() % UInt64(bytes.count)))
                case 2: bytes += [UInt8(numbers.next() % 256), UInt8(numbers.next() % 256)]
                default: bytes.insert(UInt8(numbers.next() % 256), at: Int(numbers.next() % UInt64(bytes.count + 1)))
                }
            }
            let role = Role.allCases[Int(numbers.next() % UInt64(Role.allCases.count))]
            let fast = hot(bytes, role: role), slow = general(bytes, role: role)
            if fast != nil {
                taken += 1
                #expect(fast == slow, "round \(round), role \(role), bytes \(bytes), seed \(Self.seed)")
            } else if round % 2 == 0, let slow, [" consume ", " getBalance ", " checkUsage "].contains(where: slow.contains) {
                Issue.record("a well-formed hot request left to the general path: \(slow), round \(round), seed \(Self.seed)")
            }
        }
        #expect(taken > 2_000, "\(taken) of 20,000 taken (\(damaged) damaged)")
    }
}
