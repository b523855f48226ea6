import NIOCore
import SwiftProtobuf
import TallyLedger
import Testing

@testable import TallyCodec
import TallyWire

/// An OK answer framed straight from its payload (OutboundResponse.ok) is byte for byte the
/// frame of the Tally_V1_Response swift-protobuf would build and encode, for call ids of every
/// varint length and payloads from empty to large.
@Suite struct ResponseFrameTests {
    static let seed: UInt64 = 0x0F2A_3E00_0000_0013

    /// A small deterministic generator (SplitMix64); this target does not link the test support.
    struct Numbers {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func frames(_ callID: UInt64, _ payload: some SwiftProtobuf.Message) throws -> (direct: [UInt8], envelope: [UInt8]) {
        var direct = ByteBuffer()
        try direct.writeFrame(OutboundResponse.ok(callID: callID, payload: payload))
        var response = Tally_V1_Response()
        response.callID = callID
        response.payload = try payload.serializedBytes()
        var envelope = ByteBuffer()
        try envelope.writeFrame(response)
        return (Array(direct.readableBytesView), Array(envelope.readableBytesView))
    }

    @Test func okFramesMatchTheEnvelopeEncoding() throws {
        var numbers = Numbers(state: Self.seed)
        var callIDs: [UInt64] = [0, 1, 127, 128, 16_383, 16_384, UInt64(UInt32.max), .max]
        for _ in 0..<200 { callIDs.append(numbers.next() >> (numbers.next() % 64)) }
        for callID in callIDs {
            let memo = String(repeating: "m", count: Int(numbers.next() % 300))
            let payloads: [any SwiftProtobuf.Message] = [
                Tally_V1_GetBalanceResponse(),  // empty: no payload field at all
                Tally_V1_GetBalanceResponse.with { $0.balance.userID = "u\(callID)" },
                Tally_V1_SpendResponse.with {
                    $0.transaction.id = callID
                    $0.transaction.memo = memo
                    $0.replayed = callID % 2 == 0
                },
            ]
            for payload in payloads {
                let (direct, envelope) = try frames(callID, payload)
                #expect(direct == envelope, "call id \(callID), \(type(of: payload)), seed \(Self.seed)")
            }
        }
    }

    @Test func envelopeMessageIsTheSameResponse() throws {
        let payload = Tally_V1_CreditResponse.with { $0.replayed = true }
        let message = try OutboundResponse.ok(callID: 42, payload: payload).envelopeMessage()
        #expect(message.callID == 42 && message.code == .ok)
        #expect(try Tally_V1_CreditResponse(serializedBytes: message.payload) == payload)
        let error = Tally_V1_Response.with {
            $0.callID = 7
            $0.code = .notFound
            $0.reason = "X"
        }
        #expect(try OutboundResponse.envelope(error).envelopeMessage() == error)
    }

    /// An answer with a command-log position (several hosts) frames as the envelope with its
    /// `position` field, whichever way its payload is written.
    @Test func positionedFramesMatchTheEnvelopeEncoding() throws {
        var numbers = Numbers(state: Self.seed ^ 0x8)
        for _ in 0..<200 {
            let callID = numbers.next() >> (numbers.next() % 64)
            let position = max(1, numbers.next() >> (numbers.next() % 64))
            let payload = Tally_V1_SpendResponse.with { $0.transaction.id = callID }
            let refusal = Tally_V1_Response.with {
                $0.callID = callID
                $0.code = .failedPrecondition
                $0.reason = "INSUFFICIENT_TOKENS"
            }
            let balance = Balance(userID: "u\(callID)", account: Account(available: Int64(callID % 1000), totalEarned: Int64(callID % 1000), version: 1))
            for answer in [OutboundResponse.ok(callID: callID, payload: payload), .envelope(refusal), .balance(callID: callID, balance)] {
                var direct = ByteBuffer()
                try direct.writeFrame(.at(position: position, answer))
                var message = try answer.envelopeMessage()
                message.position = position
                var envelope = ByteBuffer()
                try envelope.writeFrame(message)
                #expect(Array(direct.readableBytesView) == Array(envelope.readableBytesView), "call id \(callID), position \(position), seed \(Self.seed)")
                #expect(try OutboundResponse.at(position: position, answer).envelopeMessage() == message)
            }
        }
    }
}
