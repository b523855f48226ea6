import NIOCore

/// How long a connection may be stuck before tallyd cuts it off (docs/protocol.md, Limits).
public struct ConnectionTimeouts: Sendable {
    /// No bytes and no calls in flight for this long: closed.
    public var idleSeconds: Int64
    /// Part of a frame received, and no more bytes for this long: final FRAME_INCOMPLETE, closed.
    public var frameSeconds: Int64
    /// Answers waiting unread (the socket not writable) for this long: closed.
    public var writeStallSeconds: Int64

    public init(idleSeconds: Int64 = 300, frameSeconds: Int64 = 10, writeStallSeconds: Int64 = 30) {
        self.idleSeconds = idleSeconds
        self.frameSeconds = frameSeconds
        self.writeStallSeconds = writeStallSeconds
    }

    /// How often a quiet connection is looked at.
    var tick: TimeAmount { .seconds(max(1, min(idleSeconds, frameSeconds, writeStallSeconds))) }
}

/// Counts the bytes a connection received and when the last arrived, before framing, so the
/// connection can tell "between frames" from "stuck in the middle of one".
final class ByteMeter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private(set) var received = 0
    private(set) var lastByteAt = NIODeadline.now()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += unwrapInboundIn(data).readableBytes
        lastByteAt = .now()
        context.fireChannelRead(data)
    }
}
