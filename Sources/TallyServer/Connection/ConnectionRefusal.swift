import NIOCore
import Synchronization
import TallyWire

/// Answers a connection tallyd will not serve with one final frame (call id 0) and closes it:
/// past the connection limits, a peer with no role, or a non-admin on the admin socket.
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

    static func adminsOnly(_ peer: PeerCredentials, role: Role) -> ConnectionRefusal {
        ConnectionRefusal(Responses.error(
            callID: 0, .permissionDenied, reason: "ADMIN_SOCKET_ADMINS_ONLY",
            "uid \(peer.uid) has the \(role.rawValue) role; the admin socket serves the admin role only: connect to tallyd's main socket",
            details: ["uid": String(peer.uid), "role": role.rawValue]))
    }

    func channelActive(context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 128)
        try? buffer.writeFrame(answer)
        // Close only our sending side, then wait briefly for the client to close: a client that
        // writes its first call at once would otherwise get EPIPE and lose this frame unread.
        // At most `maxLingering` at once, so a flood of refused connects cannot pile up sockets.
        let channel = context.channel
        let linger = Self.lingering.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maxLingering
        counted = true
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in
            if linger { channel.close(mode: .output, promise: nil) } else { channel.close(promise: nil) }
        }
        if linger { deadline = context.eventLoop.scheduleTask(in: Self.linger) { channel.close(promise: nil) } }
    }

    /// How long a refused client may keep the connection after the answer, and how many may.
    static let linger = TimeAmount.seconds(2)
    static let maxLingering = 256
    private static let lingering = Atomic<Int>(0)
    private var deadline: Scheduled<Void>?
    private var counted = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}  // nothing it sends is read

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if counted { Self.lingering.subtract(1, ordering: .relaxed) }
        counted = false
        context.fireChannelInactive()
    }
}
