import Glibc
import Logging
import NIOCore
import TallyWire

/// What every accepted connection goes through before its first call: its peer's role from
/// the kernel's credentials, the connection limits, then the handlers that serve it.
///
/// The same for both sockets, except that the admin socket (`--admin-socket`) serves admins
/// only: its loop is its own, so whatever waits there is an operator's, never a client's.
struct ConnectionSetup: Sendable {
    let writer: Writer
    let snapshotter: Snapshotter
    let health: Health
    let connections: Connections
    let queue: WriterQueue
    let access: AccessPolicy
    let maxConnections: Int
    let maxConnectionsPerUID: Int
    let reservedAdminConnections: Int
    let maxFrameBytes: Int
    let maxCallsInFlight: Int
    let auditUsageCalls: Bool
    let timeouts: ConnectionTimeouts
    let logger: Logger
    let metrics: MetricsScrape
    let slowCalls: SlowCalls?
    let ownUID = geteuid()

    func setUp(_ channel: any Channel, adminSocket: Bool) -> EventLoopFuture<Void> {
        PeerCredentials.of(channel).flatMapThrowing { peer in
            let handlers = channel.pipeline.syncOperations
            guard let role = access.role(uid: peer.uid, gid: peer.gid) else {
                logger.notice("refused a connection with no role", metadata: ["uid": "\(peer.uid)", "gid": "\(peer.gid)", "pid": "\(peer.pid)"])
                try handlers.addHandler(ConnectionRefusal.noRole(peer))
                return
            }
            let admin = role == .admin || peer.uid == ownUID
            if adminSocket, !admin {
                logger.notice(
                    "refused a connection to the admin socket", metadata: ["uid": "\(peer.uid)", "role": "\(role.rawValue)", "pid": "\(peer.pid)"])
                try handlers.addHandler(ConnectionRefusal.adminsOnly(peer, role: role))
                return
            }
            // Admins and tallyd's own uid get reserved connections past both limits, so an
            // operator can always get in (PostgreSQL's superuser_reserved_connections).
            let reserved = admin ? reservedAdminConnections : 0
            switch connections.track(channel, uid: peer.uid, role: role, limit: maxConnections, perUID: maxConnectionsPerUID, reserved: reserved) {
            case .tooMany:
                connections.logRefusal("TOO_MANY_CONNECTIONS", peer: peer, limit: maxConnections + reserved, logger: logger)
                try handlers.addHandler(ConnectionRefusal.tooManyConnections(limit: maxConnections + reserved))
                return
            case .tooManyForUID:
                connections.logRefusal("TOO_MANY_CONNECTIONS_FOR_UID", peer: peer, limit: maxConnectionsPerUID + reserved, logger: logger)
                try handlers.addHandler(ConnectionRefusal.tooManyForUID(peer.uid, limit: maxConnectionsPerUID + reserved))
                return
            case .admitted:
                break
            }
            let meter = ByteMeter()
            try handlers.addHandler(IdleStateHandler(readTimeout: timeouts.tick))
            try handlers.addHandler(meter)
            try handlers.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
            try handlers.addHandler(
                ConnectionHandler(
                    writer: writer, snapshotter: snapshotter, health: health, role: role, peer: peer, queue: queue,
                    maxCallsInFlight: maxCallsInFlight, auditUsageCalls: auditUsageCalls, meter: meter, timeouts: timeouts, logger: logger,
                    metrics: metrics, slowCalls: slowCalls))
        }
    }
}
