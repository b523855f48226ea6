import NIOCore

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
