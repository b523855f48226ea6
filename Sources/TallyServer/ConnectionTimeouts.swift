import NIOCore
import TallyWire

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

/// Answers a connection tallyd will not serve with one final frame (call id 0) and closes it:
/// past the connection limits, or a peer with no role.
final class ConnectionRefusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let answer: Tally_V1_Response

    init(_ answer: Tally_V1_Response) { self.answer = answer }

    static func tooManyConnections(limit: Int) -> ConnectionRefusal {
        ConnectionRefusal(Responses.error(
            callID: 0, .resourceExhausted, reason: "TOO_MANY_CONNECTIONS",
            "tallyd serves at most \(limit) connections at once; retry later", details: ["limit": String(limit)]))
    }

    static func tooManyForUID(_ uid: UInt32, limit: Int) -> ConnectionRefusal {
        ConnectionRefusal(Responses.error(
            callID: 0, .resourceExhausted, reason: "TOO_MANY_CONNECTIONS_FOR_UID",
            "uid \(uid) already has \(limit) connections open, the most one uid may have; close some or retry later",
            details: ["limit": String(limit), "uid": String(uid)]))
    }

    static func noRole(_ peer: PeerCredentials) -> ConnectionRefusal {
        ConnectionRefusal(Responses.error(
            callID: 0, .permissionDenied, reason: "NO_ROLE",
            "uid \(peer.uid) (gid \(peer.gid)) has no role in tallyd's access rules; an admin can grant one (docs/operations.md)",
            details: ["uid": String(peer.uid), "gid": String(peer.gid)]))
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 128)
        try? buffer.writeFrame(answer)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}  // nothing it sends is read
}
