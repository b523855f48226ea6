import NIOCore
import Synchronization
import SwiftProtobuf
import TallyWire

/// A call on its way out: the request and where its answer goes.
struct OutgoingCall: Sendable {
    var request: Tally_V1_Request
    var promise: EventLoopPromise<Tally_V1_Response>
}

/// The connection-level error tallyd ended the connection with (a frame with call id 0), kept
/// so that a call written after the connection closed reports why, not just "closed".
final class ConnectionEnd: Sendable {
    private let error = Mutex<TallyError?>(nil)

    var finalError: TallyError? { error.withLock { $0 } }
    func record(_ final: TallyError) { error.withLock { $0 = $0 ?? final } }

    /// What a call that could not be written is told.
    func unsent(_ cause: any Error) -> TallyError {
        finalError ?? TallyError(code: .unavailable, reason: "CONNECTION_CLOSED", message: "could not send: \(cause)")
    }
}

/// Matches responses to calls by call id; many calls may be in flight at once.
final class CallHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = OutgoingCall
    typealias OutboundOut = ByteBuffer

    private let end: ConnectionEnd

    init(end: ConnectionEnd) {
        self.end = end
    }

    private var pending: [UInt64: EventLoopPromise<Tally_V1_Response>] = [:]
    private var nextCallID: UInt64 = 1

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var call = unwrapOutboundIn(data)
        if call.request.callID == 0 {
            call.request.callID = nextCallID
            nextCallID &+= 1
            if nextCallID == 0 { nextCallID = 1 }
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        do {
            try buffer.writeFrame(call.request)
        } catch {
            call.promise.fail(error)
            promise?.fail(error)
            return
        }
        pending[call.request.callID] = call.promise
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let response: Tally_V1_Response
        do {
            response = try Tally_V1_Response(serializedBytes: unwrapInboundIn(data))
        } catch {
            failAll(TallyError(code: .internal, reason: "MALFORMED_RESPONSE", message: "server sent an undecodable frame: \(error)"))
            context.close(promise: nil)
            return
        }
        if response.callID == 0 {
            // A connection-level error: the server closes the connection after it.
            end.record(TallyError(response))
            failAll(TallyError(response))
            context.close(promise: nil)
            return
        }
        pending.removeValue(forKey: response.callID)?.succeed(response)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(TallyError(code: .unavailable, reason: "CONNECTION_CLOSED", message: "the connection to tallyd closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(TallyError(code: .unavailable, reason: "CONNECTION_ERROR", message: "\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: TallyError) {
        let promises = pending.values
        pending.removeAll()
        for promise in promises { promise.fail(error) }
    }
}
