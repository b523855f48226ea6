import NIOCore
import SwiftProtobuf
import TallyLedger
import TallyWire

/// A Response on its way out. An OK answer keeps its payload message as it is, so that it is
/// encoded once, straight into the outbound buffer: building a Tally_V1_Response first encodes
/// the payload into Data, then copies it into the envelope's encoding, a third of a consume's
/// answer time in a profile.
public enum OutboundResponse {
    case ok(callID: UInt64, payload: any SwiftProtobuf.Message)
    case envelope(Tally_V1_Response)
    /// GetBalanceResponse{balance}, written from the Ledger's value (HotAnswers).
    case balance(callID: UInt64, Balance)
    /// CheckUsageResponse{status} (`replayed` nil) or ConsumeResponse{status, replayed},
    /// written from the Ledger's value (HotAnswers).
    case usageStatus(callID: UInt64, UsageStatus, replayed: Bool?)
    /// An answer with the command log's position of the mutation it answers (Response.position,
    /// several hosts).
    indirect case at(position: UInt64, OutboundResponse)

    /// The answer without its position: what says its status.
    public var unpositioned: OutboundResponse {
        if case .at(_, let inner) = self { return inner }
        return self
    }

    /// The same Response as a message (for callers that hold answers as messages).
    public func envelopeMessage() throws -> Tally_V1_Response {
        switch self {
        case .envelope(let response): return response
        case .ok(let callID, let payload):
            var response = Tally_V1_Response()
            response.callID = callID
            response.payload = try payload.serializedBytes()
            return response
        case .balance(let callID, let balance):
            return try OutboundResponse.ok(callID: callID, payload: Tally_V1_GetBalanceResponse.with { $0.balance = Tally_V1_Balance(balance) })
                .envelopeMessage()
        case .usageStatus(let callID, let status, let replayed):
            let payload: any SwiftProtobuf.Message = if let replayed {
                Tally_V1_ConsumeResponse.with {
                    $0.status = Tally_V1_UsageStatus(status)
                    $0.replayed = replayed
                }
            } else {
                Tally_V1_CheckUsageResponse.with { $0.status = Tally_V1_UsageStatus(status) }
            }
            return try OutboundResponse.ok(callID: callID, payload: payload).envelopeMessage()
        case .at(let position, let inner):
            var response = try inner.envelopeMessage()
            response.position = position
            return response
        }
    }
}

extension ByteBuffer {
    /// Appends `response` as one frame: the same bytes swift-protobuf writes for the envelope
    /// (fields in number order, defaults left out), which ResponseFrameTests check.
    public mutating func writeFrame(_ response: OutboundResponse) throws {
        try writeFrame(response, position: 0)
    }

    private mutating func writeFrame(_ response: OutboundResponse, position: UInt64) throws {
        switch response {
        case .at(let position, let inner):
            try writeFrame(inner, position: position)
        case .envelope(var message):
            if position != 0 { message.position = position }
            try writeFrame(message)
        case .ok(let callID, let payload):
            let body: ByteBuffer = try payload.serializedBytes()
            writeEnvelope(callID: callID, payloadSize: body.readableBytes, position: position) { $0.copy(body) }
        case .balance(let callID, let balance):
            let size = HotAnswers.balanceSize(balance)
            writeEnvelope(callID: callID, payloadSize: HotAnswers.messageField(1, size), position: position) {
                $0.messageHeader(1, size: size)
                $0.fields(of: balance)
            }
        case .usageStatus(let callID, let status, let replayed):
            let date = status.date.description
            let size = HotAnswers.statusSize(status, date: date)
            let replayedSize = replayed == true ? 2 : 0
            writeEnvelope(callID: callID, payloadSize: HotAnswers.messageField(1, size) + replayedSize, position: position) {
                $0.messageHeader(1, size: size)
                $0.fields(of: status, date: date)
                if replayedSize > 0 {
                    $0.byte(2 << 3 | 0)  // replayed = 2, varint
                    $0.byte(1)
                }
            }
        }
    }

    /// A frame holding a Response with `callID` and a payload of exactly `payloadSize` bytes,
    /// which `payload` writes: the frame's space is reserved once and filled through a pointer.
    /// (Byte by byte ByteBuffer writes each check uniqueness, capacity and exclusivity.)
    private mutating func writeEnvelope(callID: UInt64, payloadSize: Int, position: UInt64, _ payload: (inout RawFields) -> Void) {
        let body =
            HotAnswers.varintField(1, callID) + (payloadSize > 0 ? HotAnswers.messageField(6, payloadSize) : 0)
            + (position != 0 ? HotAnswers.varintField(8, position) : 0)
        let frameBytes = Frame.headerBytes + body
        writeWithUnsafeMutableBytes(minimumWritableBytes: frameBytes) { raw in
            var out = RawFields(base: raw.baseAddress!)
            out.byte(UInt8(truncatingIfNeeded: body >> 24))
            out.byte(UInt8(truncatingIfNeeded: body >> 16))
            out.byte(UInt8(truncatingIfNeeded: body >> 8))
            out.byte(UInt8(truncatingIfNeeded: body))
            out.varintField(1, callID)
            if payloadSize > 0 {
                out.messageHeader(6, size: payloadSize)
                let start = out.at
                payload(&out)
                precondition(out.at - start == payloadSize, "a hot answer's size and its bytes disagree")
            }
            if position != 0 { out.varintField(8, position) }
            return out.at
        }
    }
}
