import NIOCore
import SwiftProtobuf
import TallyLedger
import Testing

@testable import TallyCodec
import TallyWire

/// Answers written straight from the Ledger's values (OutboundResponse.balance, .usageStatus)
/// are byte for byte the frames swift-protobuf makes of the same tally.v1 messages, for random
/// values of every sign and size, empty and multi-byte strings, and call ids of every length.
@Suite struct HotAnswerTests {
    static let seed: UInt64 = 0x4077_A45E_0000_0001

    /// A value that is often 0 (left out), often small, sometimes extreme.
    static func number(_ numbers: inout ResponseFrameTests.Numbers) -> Int64 {
        switch numbers.next() % 6 {
        case 0: 0
        case 1: Int64(numbers.next() % 200)
        case 2: -Int64(numbers.next() % 200)
        case 3: .max
        case 4: .min
        default: Int64(bitPattern: numbers.next())
        }
    }

    static func text(_ numbers: inout ResponseFrameTests.Numbers) -> String {
        ["", "u", "ann ✓", String(repeating: "é", count: Int(numbers.next() % 90)), "user-\(numbers.next())"][Int(numbers.next() % 5)]
    }

    func frame(_ response: OutboundResponse) throws -> (direct: [UInt8], protobuf: [UInt8]) {
        var direct = ByteBuffer()
        try direct.writeFrame(response)
        var protobuf = ByteBuffer()
        try protobuf.writeFrame(try response.envelopeMessage())
        return (Array(direct.readableBytesView), Array(protobuf.readableBytesView))
    }

    @Test func balancesAndUsageStatusesMatchSwiftProtobuf() throws {
        var numbers = ResponseFrameTests.Numbers(state: Self.seed)
        for round in 0..<2_000 {
            let callID = numbers.next() >> (numbers.next() % 65)
            let balance = Balance(
                userID: Self.text(&numbers),
                account: Account(
                    available: Self.number(&numbers), committed: Self.number(&numbers), totalEarned: Self.number(&numbers),
                    totalSpent: Self.number(&numbers), version: UInt64(bitPattern: Self.number(&numbers)),
                    createdAt: Self.number(&numbers), updatedAt: Self.number(&numbers)))
            let status = UsageStatus(
                userID: Self.text(&numbers),
                date: CivilDay(year: Int32(truncatingIfNeeded: Self.number(&numbers) % 20_000), month: UInt8(1 + numbers.next() % 12), day: UInt8(1 + numbers.next() % 28)),
                used: Self.number(&numbers), reserved: Self.number(&numbers), limit: Self.number(&numbers), remaining: Self.number(&numbers),
                resetsAt: Self.number(&numbers), tier: ExactString(Self.text(&numbers)), shadow: numbers.next() % 2 == 0,
                shadowRefusals: Self.number(&numbers))
            let replayed: Bool? = [nil, false, true][Int(numbers.next() % 3)]
            for response in [OutboundResponse.balance(callID: callID, balance), .usageStatus(callID: callID, status, replayed: replayed)] {
                let (direct, protobuf) = try frame(response)
                #expect(direct == protobuf, "round \(round), \(response), seed \(Self.seed)")
            }
        }
    }
}
