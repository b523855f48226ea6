import NIOCore
import Synchronization
import SwiftProtobuf
import TallyWire

/// A call on its way out: the request, where its answer goes, and how long to wait for it
/// (nil: as long as the connection lasts).
struct OutgoingCall: Sendable {
    var request: Tally_V1_Request
    /// The answer; for a stream, its last frame (its status).
    var promise: EventLoopPromise<Tally_V1_Response>
    var wait: TimeAmount?
    /// A stream's messages go here, in order, before its last frame completes `promise`.
    var stream: StreamSink? = nil
}

/// Where a stream's messages go; its call id is set when the call is written (a cancel names it).
final class StreamSink: Sendable {
    let onMessage: @Sendable (Tally_V1_Response) -> Void
    private let id = Atomic<UInt64>(0)

    init(onMessage: @escaping @Sendable (Tally_V1_Response) -> Void) {
        self.onMessage = onMessage
    }

    var callID: UInt64 {
        get { id.load(ordering: .acquiring) }
        set { id.store(newValue, ordering: .releasing) }
    }

    private let ended = Atomic<Bool>(false)

    /// Until its last frame came: a cancel after that would name a call id that is free again.
    var open: Bool {
        get { !ended.load(ordering: .acquiring) }
        set { ended.store(!newValue, ordering: .releasing) }
    }
}

/// The connection-level error tallyd ended the connection with (a frame with call id 0), kept
/// so that a call written after the connection closed reports why, not just "closed".
final class ConnectionEnd: Sendable {
    private let error = Mutex<TallyError?>(nil)

    private let givenUp = Atomic<Int>(0)

    var finalError: TallyError? { error.withLock { $0 } }
    func record(_ final: TallyError) { error.withLock { $0 = $0 ?? final } }

    /// Calls that got no answer within their local deadline.
    var callsGivenUp: Int { givenUp.load(ordering: .relaxed) }
    func countGivenUp() { givenUp.add(1, ordering: .relaxed) }

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
    private var streams: [UInt64: StreamSink] = [:]
    /// The local deadline of each call that has one, cancelled when its answer comes.
    private var timers: [UInt64: Scheduled<Void>] = [:]
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
        let callID = call.request.callID
        if call.request.cancel {
            // Ends a stream: no answer of its own (the stream's last frame answers it).
            call.promise.succeed(Tally_V1_Response())
            context.write(wrapOutboundOut(buffer), promise: promise)
            return
        }
        if let stream = call.stream {
            stream.callID = callID
            streams[callID] = stream
        }
        pending[callID] = call.promise
        if let wait = call.wait {
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            timers[callID] = context.eventLoop.scheduleTask(in: wait) { bound.value.giveUp(callID, after: wait) }
        }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    /// No answer in time: the call fails with its outcome unknown, and its answer, should it
    /// come later, is dropped by its call id. The connection stays usable.
    private func giveUp(_ callID: UInt64, after wait: TimeAmount) {
        timers[callID] = nil
        guard let promise = pending.removeValue(forKey: callID) else { return }
        end.countGivenUp()
        let waitedMs = wait.nanoseconds / 1_000_000
        promise.fail(TallyError(
            code: .deadlineExceeded, reason: "CLIENT_TIMEOUT",
            message: "no answer within \(waitedMs) ms (the call's timeout plus the client's grace); the outcome is unknown: retry a mutation with the same idempotency key",
            details: ["waited_ms": String(waitedMs), "call_id": String(callID), "outcome": "unknown"]))
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
        if response.more {
            streams[response.callID]?.onMessage(response)
            return
        }
        streams.removeValue(forKey: response.callID)
        timers.removeValue(forKey: response.callID)?.cancel()
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
        streams.removeAll()
        for timer in timers.values { timer.cancel() }
        timers.removeAll()
        for promise in promises { promise.fail(error) }
    }
}
