import NIOCore
import SwiftProtobuf

/// A frame is a 4-byte big-endian length followed by exactly that many bytes of one message.
public enum Frame {
    public static let headerBytes = 4
    /// Default bound on a frame's length (the 4 header bytes not counted). docs/protocol.md.
    public static let defaultMaxBytes = 4 * 1024 * 1024
}

public enum FrameError: Error, Equatable, CustomStringConvertible {
    case tooLarge(length: UInt32, limit: Int)

    public var description: String {
        switch self {
        case .tooLarge(let length, let limit): "frame of \(length) bytes is over the limit of \(limit) bytes"
        }
    }
}

/// Splits a byte stream into frames. Unlike a generic length-field decoder it enforces a
/// maximum frame size as soon as the length prefix is read, before buffering the body.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer

    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int = Frame.defaultMaxBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try nextFrame(&buffer) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame at EOF is dropped: the peer went away mid-frame.
        try decode(context: context, buffer: &buffer)
    }

    /// The next complete frame's body, nil if more bytes are needed. Pure: usable without a channel.
    public func nextFrame(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return nil
        }
        guard Int(length) <= maxFrameBytes else {
            throw FrameError.tooLarge(length: length, limit: maxFrameBytes)
        }
        guard buffer.readableBytes >= Frame.headerBytes + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: Frame.headerBytes)
        return buffer.readSlice(length: Int(length))
    }
}

extension ByteBuffer {
    /// Appends `message` as one frame.
    public mutating func writeFrame(_ message: some SwiftProtobuf.Message) throws {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        let body: ByteBuffer = try message.serializedBytes()
        writeImmutableBuffer(body)
        setInteger(UInt32(writerIndex - lengthIndex - Frame.headerBytes), at: lengthIndex, endianness: .big)
    }
}
