import NIOCore
import NIOEmbedded
import SwiftProtobuf
import Testing

@testable import TallyWire

/// The frame codec through a real NIO pipeline (EmbeddedChannel), fed the way a socket would.
@Suite struct FrameDecoderTests {
    func channel(max: Int = 1_024) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: max)))
        return channel
    }

    func frame(_ body: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init) + body
    }

    func readAll(_ channel: EmbeddedChannel) throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        while let buffer = try channel.readInbound(as: ByteBuffer.self) {
            frames.append(Array(buffer.readableBytesView))
        }
        return frames
    }

    @Test func frameSplitAcrossManyReads() throws {
        let channel = try self.channel()
        let body = Array((0..<300).map { UInt8($0 % 251) })
        let bytes = frame(body)
        for byte in bytes.dropLast() {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            #expect(try readAll(channel).isEmpty, "no frame before its last byte")
        }
        try channel.writeInbound(ByteBuffer(bytes: [bytes.last!]))
        #expect(try readAll(channel) == [body])
        #expect(try channel.finish().isClean)
    }

    @Test func manyFramesInOneRead() throws {
        let channel = try self.channel()
        let bodies: [[UInt8]] = (0..<50).map { i in Array(repeating: UInt8(i), count: i * 3) }
        try channel.writeInbound(ByteBuffer(bytes: bodies.flatMap(frame)))
        #expect(try readAll(channel) == bodies)
    }

    @Test func zeroLengthFrame() throws {
        let channel = try self.channel()
        try channel.writeInbound(ByteBuffer(bytes: frame([]) + frame([7])))
        #expect(try readAll(channel) == [[], [7]])
    }

    @Test func frameExactlyAtTheLimitIsAccepted() throws {
        let channel = try self.channel(max: 64)
        let body = [UInt8](repeating: 1, count: 64)
        try channel.writeInbound(ByteBuffer(bytes: frame(body)))
        #expect(try readAll(channel) == [body])
    }

    @Test func frameOverTheLimitFailsAsSoonAsItsLengthIsRead() throws {
        let channel = try self.channel(max: 64)
        // Only the length prefix: the decoder must refuse before any body is buffered.
        #expect(throws: FrameError.tooLarge(length: 65, limit: 64)) {
            try channel.writeInbound(ByteBuffer(bytes: withUnsafeBytes(of: UInt32(65).bigEndian, Array.init)))
        }
    }

    @Test func hugeLengthPrefixFromGarbage() throws {
        let channel = try self.channel()
        #expect(throws: FrameError.tooLarge(length: 0xDEAD_BEEF, limit: 1_024)) {
            try channel.writeInbound(ByteBuffer(bytes: [0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0x01]))
        }
    }

    @Test func garbageWithinTheLimitIsFramedButIsNotARequest() throws {
        let channel = try self.channel()
        // A small length prefix followed by bytes that are not a protobuf message.
        let garbage: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        try channel.writeInbound(ByteBuffer(bytes: frame(garbage)))
        let frames = try readAll(channel)
        #expect(frames == [garbage])
        #expect(throws: (any Error).self) { try Tally_V1_Request(serializedBytes: frames[0]) }
    }

    @Test func partialFrameAtEndOfStreamIsDropped() throws {
        let channel = try self.channel()
        try channel.writeInbound(ByteBuffer(bytes: frame([1, 2, 3]) + Array(frame([4, 5, 6]).prefix(5))))
        #expect(try readAll(channel) == [[1, 2, 3]])
        _ = try? channel.finish()
        #expect(try readAll(channel).isEmpty)
    }

    @Test func writeFrameRoundTripsThroughTheDecoder() throws {
        var request = Tally_V1_Request()
        request.callID = 42
        request.protocolVersion = WireProtocol.version
        request.method = Method.credit.rawValue
        request.payload = try Tally_V1_CreditRequest.with { $0.userID = "alice"; $0.amount = -5 }.serializedBytes()
        var buffer = ByteBuffer()
        try buffer.writeFrame(request)
        try buffer.writeFrame(request)
        #expect(buffer.getInteger(at: 0, as: UInt32.self) == UInt32(buffer.readableBytes / 2 - 4))

        let channel = try self.channel()
        try channel.writeInbound(buffer)
        let frames = try readAll(channel)
        #expect(frames.count == 2)
        let decoded = try Tally_V1_Request(serializedBytes: frames[1])
        #expect(decoded == request)
        let credit = try Tally_V1_CreditRequest(serializedBytes: decoded.payload)
        #expect(credit.amount == -5)
    }

    @Test func decodingStraightFromAByteBufferSlice() throws {
        let message = Tally_V1_Balance.with { $0.userID = "bob"; $0.available = Int64.max; $0.committed = -1 }
        var buffer = ByteBuffer(bytes: [9, 9, 9])
        buffer.writeBytes(try message.serializedBytes() as [UInt8])
        buffer.moveReaderIndex(forwardBy: 3)
        #expect(try Tally_V1_Balance(serializedBytes: buffer) == message)
    }
}
