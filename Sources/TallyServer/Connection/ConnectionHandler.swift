import Logging
import NIOCore
import SwiftProtobuf
import TallyLedger
import TallyCodec
import TallyWire

/// One client connection: decodes frames into calls, hands each read's calls to the Writer as
/// one batch, and writes the answers back with one flush per batch.
///
/// Backpressure: with `maxCallsInFlight` calls unanswered, or answers piling up unread (the
/// channel is not writable past NIO's write-buffer high-water mark), it stops reading from the
/// socket; the kernel buffer then fills and the client's writes block until things drain.
///
/// Half-close: a client may shut down its sending side after its last request; the answers to
/// what it sent still arrive, then tallyd closes the connection.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The Writer, the Snapshotter and Health: what every call needs, one value.
    private let parts: OffWriterParts
    private let role: Role
    private let peer: PeerCredentials
    private let queue: WriterQueue
    private let maxCallsInFlight: Int
    private let auditUsageCalls: Bool
    private let meter: ByteMeter
    private let timeouts: ConnectionTimeouts
    private let logger: Logger
    private let meters: Meters
    private let slowCalls: SlowCalls?
    /// When the first bytes of the calls in `batch` were read (nil: none yet).
    private var batchReadAt: NIODeadline?
    /// Bytes of complete frames taken from the stream; fewer than received = mid-frame.
    private var framedBytes = 0
    private var unwritableSince: NIODeadline?
    private var context: ChannelHandlerContext?
    private var batch: [WriterCall] = []
    private var outbound: ByteBuffer
    private var callsInFlight = 0
    private var readHeld = false
    private var closing = false
    private var inputClosed = false
    /// Open streams by call id (docs/protocol.md §5.1); a serial tells a reused call id's
    /// stream from the one before it.
    private var streams: [UInt64: WatchStream] = [:]
    private var streamSerial: UInt64 = 0
    /// A flush of stream messages is queued for the end of this turn of the loop.
    private var flushQueued = false
    /// Streams one connection may have open at once.
    static let maxStreams = 100

    init(
        writer: Writer, snapshotter: Snapshotter, health: Health, role: Role, peer: PeerCredentials, queue: WriterQueue,
        maxCallsInFlight: Int, auditUsageCalls: Bool, meter: ByteMeter, timeouts: ConnectionTimeouts, logger: Logger,
        metrics: MetricsScrape, slowCalls: SlowCalls? = nil
    ) {
        self.meters = metrics.meters
        self.slowCalls = slowCalls
        self.auditUsageCalls = auditUsageCalls
        self.peer = peer
        self.parts = OffWriterParts(writer: writer, snapshotter: snapshotter, health: health, metrics: metrics)
        self.role = role
        self.queue = queue
        self.meter = meter
        self.timeouts = timeouts
        self.maxCallsInFlight = maxCallsInFlight
        self.logger = logger
        self.outbound = ByteBufferAllocator().buffer(capacity: 0)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        outbound = context.channel.allocator.buffer(capacity: 4096)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // The connection is gone: its watches end with it.
        for stream in streams.values {
            stream.deadline?.cancel()
            stream.feed?.stop()
            if let key = stream.watch { parts.writer.endWatch(key) }
        }
        streams.removeAll()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        if batchReadAt == nil { batchReadAt = .now() }
        let frame = unwrapInboundIn(data)
        framedBytes += Frame.headerBytes + frame.readableBytes
        if let call = HotRequests.decode(frame, role: role) {
            if !streams.isEmpty, streams[call.callID] != nil {
                refuseStreamIDInUse(call.callID, call.method)
                return
            }
            take(call)
            return
        }
        let request: Tally_V1_Request
        do {
            request = try Tally_V1_Request(serializedBytes: frame)
        } catch {
            // The bytes inside a well-sized frame are not a Request: the peer is not speaking
            // this protocol, so nothing after this can be trusted either.
            closeWithError(
                context, .invalidArgument, reason: "MALFORMED_FRAME",
                "frame is not a tally.v1.Request (\(error)); closing the connection")
            return
        }
        if request.cancel, request.callID != 0 {
            // Ends the stream of that call id, if it is still open; otherwise nothing to do.
            endStream(request.callID, StreamEnd(code: .cancelled, reason: "CANCELLED", message: "the client cancelled the stream"))
            return
        }
        guard request.callID != 0 else {
            // An answer could not be matched to this call, so the client has lost track of its
            // calls: end the connection the same way as for a broken frame.
            closeWithError(
                context, .invalidArgument, reason: "CALL_ID_MISSING",
                "call_id must be non-zero (0 is reserved for connection errors); closing the connection")
            return
        }
        if !streams.isEmpty, streams[request.callID] != nil {
            refuseStreamIDInUse(request.callID, Method(rawValue: request.method))
            return
        }
        let decoded = CallDecoding.decode(request, role: role)
        if request.minPosition > 0 {
            switch decoded {
            case .call(let call):
                return waitForPosition(request.minPosition, callID: call.callID, method: call.method, deadline: call.deadline, decoded, context: context)
            case .offWriter(let callID, let method, _):
                let deadline = CallDecoding.deadline(timeoutMs: request.timeoutMs)
                return waitForPosition(request.minPosition, callID: callID, method: method, deadline: deadline, decoded, context: context)
            default: break  // refusals and streams: min_position changes nothing
            }
        }
        dispatch(decoded, context: context)
    }

    /// A decoded request on its way: to this read's batch for the Writer, off the Writer, to a
    /// stream, or answered at once.
    private func dispatch(_ decoded: CallDecoding.Decoded, context: ChannelHandlerContext) {
        switch decoded {
        case .call(let call):
            take(call)
        case .refused(let callID, let method, let refusal):
            // Through the Writer, so the refusal is in the audit log before it is answered;
            // when the Writer is overloaded it is answered at once, unaudited (docs/security.md).
            guard queue.count + batch.count < queue.limit else {
                append(Responses.refused(callID: callID, refusal))
                return
            }
            batch.append(WriterCall(
                callID: callID, method: method, deadline: nil,
                operation: .apply(.refusedAttempt(RefusedAttempt(userID: "", refusal: refusal))), origin: origin(method)))
        case .offWriter(let callID, let method, let work):
            serveOffWriter(callID, method, work, context: context)
        case .stream(let callID, let method, let stream, let deadline):
            openStream(callID, method, stream, deadline: deadline, context: context)
        case .answer(let method, let response):
            append(response)
            var tally = CallBatch()
            tally.add(ordinal: method?.ordinal ?? Meters.unknownMethod, code: Int(response.code.rawValue), reason: response.reason)
            tally.record(in: meters, elapsed: .now() - (batchReadAt ?? .now()))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        submitBatch(context)
        flushOutbound(context)
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            cutOffIfStuck(context)
            return
        }
        if case .inputClosed = event as? ChannelEvent {
            // The client sent its last request: answer what it sent, then close.
            inputClosed = true
            submitBatch(context)
            flushOutbound(context)
            closeIfDone(context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Adds a decoded call to this read's batch, or sheds it.
    private func take(_ call: WriterCall) {
        // Shed mutations, not reads, once the Writer has too much queued: the answer is
        // immediate and costs nothing, and reads keep working for operators and apps.
        if call.method.isMutation, queue.count + batch.count >= queue.limit {
            meters.shed.increment()
            meters.answered(ordinal: call.method.ordinal, code: Int(Tally_V1_Code.unavailable.rawValue), reason: "OVERLOADED", count: 1)
            append(Responses.error(
                callID: call.callID, .unavailable, reason: "OVERLOADED",
                "tallyd has \(queue.limit) or more calls queued; nothing was applied, retry after \(queue.retryAfterMilliseconds) ms",
                details: ["retry_after_ms": String(queue.retryAfterMilliseconds), "queued_limit": String(queue.limit)]))
            return
        }
        var call = call
        if case .apply = call.operation, audits(call.method) { call.origin = origin(call.method) }
        batch.append(call)
    }

    /// Whether a mutation of this method gets an audit entry: all do but usage calls, unless
    /// `auditUsageCalls` (their refusals are counted per reason by the Writer instead). Refusals
    /// before the Ledger (role, payload) are audited for every method: they say who tried what.
    private func audits(_ method: Method) -> Bool {
        auditUsageCalls || method.access != .usage
    }

    private func origin(_ method: Method) -> AuditOrigin {
        AuditOrigin(uid: peer.uid, gid: peer.gid, role: role.rawValue, method: method.rawValue)
    }

    /// Hands every call decoded since the last hand-over to the Writer: one hop per read.
    private func submitBatch(_ context: ChannelHandlerContext) {
        // Every read ends here, with Writer calls or without (reads off the Writer, refusals
        // answered at once): the next read starts its own clock.
        let readAt = batchReadAt ?? .now()
        batchReadAt = nil
        guard !batch.isEmpty, !closing else { return }
        let calls = batch
        batch = []
        batch.reserveCapacity(calls.count)
        callsInFlight += calls.count
        queue.enter(calls.count)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        parts.writer.submit(calls) { answers, timing in
            // On the Writer's loop (the default) the answers are written at once, no hop.
            if bound.eventLoop.inEventLoop {
                bound.value.deliver(answers, readAt: readAt, timing: timing, calls: calls)
            } else {
                bound.eventLoop.execute { bound.value.deliver(answers, readAt: readAt, timing: timing, calls: calls) }
            }
        }
    }

    /// Holds a call until this tallyd's state holds `position` (its `min_position`), then sends it
    /// on its way; or answers why it will not (docs/protocol.md, "min_position").
    private func waitForPosition(
        _ position: UInt64, callID: UInt64, method: Method, deadline: NIODeadline?, _ decoded: CallDecoding.Decoded,
        context: ChannelHandlerContext
    ) {
        callsInFlight += 1
        let readAt = batchReadAt ?? .now()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        parts.writer.whenApplied(through: position, deadline: deadline).hop(to: context.eventLoop).whenSuccess { reached in
            let handler = bound.value
            handler.callsInFlight -= 1
            guard let context = handler.context, !handler.closing else { return }
            let refusal: Tally_V1_Response
            switch reached {
            case .reached:
                handler.batchReadAt = readAt
                handler.dispatch(decoded, context: context)
                handler.submitBatch(context)
                handler.flushOutbound(context)
                return
            case .ahead(let last):
                refusal = Responses.error(
                    callID: callID, .outOfRange, reason: "POSITION_AHEAD",
                    "min_position \(position) is past this tallyd's last journal record, \(last): it keeps its own journal, so no other tallyd writes positions it could reach",
                    details: ["min_position": String(position), "durable_sequence": String(last)])
            case .deadlinePassed:
                refusal = Responses.error(
                    callID: callID, .deadlineExceeded, reason: "DEADLINE_EXCEEDED",
                    "the call's deadline passed while this node waited to apply the command log through min_position \(position); it was not run",
                    details: ["min_position": String(position)])
            case .stopped(let reason, let message):
                refusal = Responses.error(callID: callID, .unavailable, reason: reason, message)
            }
            handler.append(refusal)
            handler.meters.answered(ordinal: method.ordinal, code: Int(refusal.code.rawValue), reason: refusal.reason, count: 1)
            handler.flushOutbound(context)
            handler.resumeReadingIfHeld(context)
            handler.closeIfDone(context)
        }
    }

    /// Every call served off the Writer is answered, failures included, so none stays
    /// counted in flight.
    private func serveOffWriter(_ callID: UInt64, _ method: Method, _ work: OffWriterWork, context: ChannelHandlerContext) {
        callsInFlight += 1
        let readAt = batchReadAt ?? .now()
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        work(callID, parts, context.eventLoop).hop(to: bound.eventLoop).whenComplete { result in
            let response: Tally_V1_Response
            switch result {
            case .success(let answer): response = answer
            case .failure(let error):
                response = Responses.error(callID: callID, .internal, reason: "INTERNAL", "could not answer: \(error)")
            }
            let handler = bound.value
            handler.deliverOffWriter(response)
            var tally = CallBatch()
            tally.add(ordinal: method.ordinal, code: Int(response.code.rawValue), reason: response.reason)
            let written = NIODeadline.now()
            tally.record(in: handler.meters, elapsed: written - readAt)
            if let slowCalls = handler.slowCalls, written - readAt > slowCalls.threshold {
                slowCalls.noteOffWriter(callID: callID, method: method, readAt: readAt, written: written, peer: handler.peer)
            }
        }
    }

    /// A transaction not in memory may be in the archive: answered once that is searched.
    private func lookUpArchived(_ callID: UInt64, _ id: UInt64) {
        guard let context else { return }
        callsInFlight += 1
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        parts.snapshotter.archivedTransaction(id, on: context.eventLoop).whenComplete { result in
            bound.value.deliverOffWriter(Responses.archivedTransaction(callID: callID, id: id, result))
        }
    }

    private func deliverOffWriter(_ response: Tally_V1_Response) {
        callsInFlight -= 1
        append(response)
        guard let context, !closing else { return }
        flushOutbound(context)
        resumeReadingIfHeld(context)
        closeIfDone(context)
    }

    private func deliver(_ answers: [WriterAnswer], readAt: NIODeadline, timing: WriterTiming, calls: [WriterCall]) {
        callsInFlight -= answers.count
        queue.leave(answers.count)
        var tally = CallBatch()
        for answer in answers {
            if case .transaction(nil, let id, archivable: true) = answer.result {
                lookUpArchived(answer.callID, id)
                continue
            }
            let response = answer.position == 0 ? Responses.answer(answer) : .at(position: answer.position, Responses.answer(answer))
            if case .envelope(let envelope) = response.unpositioned {
                tally.add(ordinal: answer.method.ordinal, code: Int(envelope.code.rawValue), reason: envelope.reason)
            } else {
                tally.add(ordinal: answer.method.ordinal, code: 0, reason: "")
            }
            append(response)
        }
        if let context, !closing { flushOutbound(context) }
        // Written: handed to the socket (or queued behind a client that does not read).
        let written = NIODeadline.now()
        tally.record(in: meters, elapsed: written - readAt)
        if let slowCalls, written - readAt > slowCalls.threshold {
            slowCalls.note(calls, readAt: readAt, timing: timing, written: written, peer: peer)
        }
        guard let context, !closing else { return }
        resumeReadingIfHeld(context)
        closeIfDone(context)
    }

    func read(context: ChannelHandlerContext) {
        if callsInFlight >= maxCallsInFlight || !context.channel.isWritable {
            readHeld = true
        } else {
            context.read()
        }
    }

    /// Runs when nothing arrived for a while (docs/protocol.md, Limits: timeouts).
    private func cutOffIfStuck(_ context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        let stalled = unwritableSince.map { now - $0 >= .seconds(timeouts.writeStallSeconds) } ?? false
        guard !closing else {
            // A final error frame waits behind answers the client does not read: it gets the
            // same time as any answer, then the connection goes without it.
            if stalled { context.close(promise: nil) }
            return
        }
        let quiet = now - meter.lastByteAt
        if stalled {
            // It does not read its answers: a final frame could not reach it either.
            logger.notice(
                "closing a connection that has not read its answers for \(timeouts.writeStallSeconds) s",
                metadata: ["uid": "\(peer.uid)", "pid": "\(peer.pid)", "role": "\(role.rawValue)"])
            closing = true
            context.close(promise: nil)
        } else if meter.received > framedBytes, !readHeld, quiet >= .seconds(timeouts.frameSeconds) {
            // (While tallyd itself holds reads for backpressure, a partial frame is its doing.)
            closeWithError(
                context, .deadlineExceeded, reason: "FRAME_INCOMPLETE",
                "part of a frame arrived and nothing more for \(timeouts.frameSeconds) s; closing the connection",
                details: ["received": String(meter.received - framedBytes), "timeout_seconds": String(timeouts.frameSeconds)])
        } else if callsInFlight == 0, streams.isEmpty, meter.received == framedBytes, quiet >= .seconds(timeouts.idleSeconds) {
            closing = true
            context.close(promise: nil)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        unwritableSince = context.channel.isWritable ? nil : (unwritableSince ?? .now())
        if context.channel.isWritable {
            for stream in streams.values where !stream.pending.isEmpty { drain(stream) }
        }
        resumeReadingIfHeld(context)
        context.fireChannelWritabilityChanged()
    }

    private func resumeReadingIfHeld(_ context: ChannelHandlerContext) {
        if readHeld, callsInFlight < maxCallsInFlight, context.channel.isWritable {
            readHeld = false
            context.read()
        }
    }

    private func closeIfDone(_ context: ChannelHandlerContext) {
        guard inputClosed, callsInFlight == 0, streams.isEmpty, !closing else { return }
        closing = true
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let frameError = error as? FrameError, case .tooLarge(let length, let limit) = frameError {
            closeWithError(
                context, .resourceExhausted, reason: "FRAME_TOO_LARGE",
                "frame of \(length) bytes is over the limit of \(limit) bytes; closing the connection",
                details: ["length": String(length), "limit": String(limit)])
        } else {
            logger.debug("connection error", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    private func append(_ response: Tally_V1_Response) {
        do {
            try outbound.writeFrame(response)
        } catch {
            logger.error(
                "could not encode a response",
                metadata: ["error": "\(error)", "call_id": "\(response.callID)", "uid": "\(peer.uid)", "pid": "\(peer.pid)"])
        }
    }

    private func append(_ response: OutboundResponse) {
        let start = outbound.writerIndex
        do {
            try outbound.writeFrame(response)
        } catch {
            outbound.moveWriterIndex(to: start)
            logger.error("could not encode a response", metadata: ["error": "\(error)", "uid": "\(peer.uid)", "pid": "\(peer.pid)"])
            // Never leave the caller waiting: an answer that cannot be encoded becomes INTERNAL.
            if case .ok(let callID, _) = response.unpositioned {
                append(Responses.error(callID: callID, .internal, reason: "INTERNAL", "could not encode the answer: \(error)"))
            }
        }
    }

    private func flushOutbound(_ context: ChannelHandlerContext) {
        guard outbound.readableBytes > 0 else { return }
        let bytes = outbound
        outbound = context.channel.allocator.buffer(capacity: 4096)
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }

    /// Sends a final error frame with call id 0 and closes: for input after which the stream
    /// cannot be trusted.
    private func closeWithError(
        _ context: ChannelHandlerContext, _ code: Tally_V1_Code, reason: String, _ message: String,
        details: [String: String] = [:]
    ) {
        guard !closing else { return }
        closing = true
        batch.removeAll()
        meters.answered(ordinal: Meters.unknownMethod, code: Int(code.rawValue), reason: reason, count: 1)
        append(Responses.error(callID: 0, code, reason: reason, message, details: details))
        let bytes = outbound
        outbound = context.channel.allocator.buffer(capacity: 0)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    // MARK: Streams (docs/protocol.md §5.1)

    private func openStream(_ callID: UInt64, _ method: Method, _ request: StreamRequest, deadline: NIODeadline?, context: ChannelHandlerContext) {
        guard streams.count < Self.maxStreams else {
            answerAtOnce(method, Responses.error(
                callID: callID, .resourceExhausted, reason: "TOO_MANY_STREAMS",
                "this connection has \(Self.maxStreams) streams open; end one or open another connection",
                details: ["limit": String(Self.maxStreams)]))
            return
        }
        streamSerial += 1
        let serial = streamSerial
        var position: UInt64 = 0
        if case .balances(_, let resumeAfter?) = request { position = resumeAfter }
        let stream = WatchStream(serial: serial, callID: callID, method: method, position: position)
        streams[callID] = stream
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        if let deadline {
            stream.deadline = context.eventLoop.scheduleTask(deadline: deadline) {
                bound.value.endStream(callID, serial: serial, StreamEnd(
                    code: .deadlineExceeded, reason: "DEADLINE_EXCEEDED", message: "the stream's timeout_ms ran out"))
            }
        }
        // Events come on the Writer's loop: at once when it is this connection's, else hopped.
        let sink: WatchSink = { event in
            if bound.eventLoop.inEventLoop {
                bound.value.streamEvent(callID, serial: serial, event)
            } else {
                bound.eventLoop.execute { bound.value.streamEvent(callID, serial: serial, event) }
            }
        }
        let registration: EventLoopFuture<WatchKey?>
        switch request {
        case .balances(let users, let resumeAfter):
            registration = parts.writer.watchBalances(users: users, resumeAfter: resumeAfter, sink: sink)
        case .usage(let users):
            registration = parts.writer.watchUsage(users: users, sink: sink)
        case .changes(let after):
            stream.position = after
            let feed = ChangeFeed(
                after: after, dataDirectory: parts.health.dataDirectory, config: parts.writer.ledgerConfig, writer: parts.writer, sink: sink)
            stream.feed = feed
            feed.start()
            return
        }
        registration.hop(to: context.eventLoop).whenSuccess { key in
            bound.value.registered(callID, serial: serial, key)
        }
    }

    /// An answer given at once to a call that never reached the Writer, counted like one.
    /// Any answer under an open stream's id would read as that stream's end: such a call is
    /// refused first, whatever it is, with the one reason that tells the client it is not.
    private func refuseStreamIDInUse(_ callID: UInt64, _ method: Method?) {
        let response = Responses.error(
            callID: callID, .alreadyExists, reason: "STREAM_CALL_ID_IN_USE",
            "call id \(callID) names a stream still open on this connection; use another id", details: ["call_id": String(callID)])
        append(response)
        meters.answered(ordinal: method?.ordinal ?? Meters.unknownMethod, code: Int(response.code.rawValue), reason: response.reason, count: 1)
    }

    private func answerAtOnce(_ method: Method, _ response: Tally_V1_Response) {
        append(response)
        meters.answered(ordinal: method.ordinal, code: Int(response.code.rawValue), reason: response.reason, count: 1)
    }

    private func registered(_ callID: UInt64, serial: UInt64, _ key: WatchKey?) {
        guard let key else { return }
        if let stream = streams[callID], stream.serial == serial {
            stream.watch = key
        } else {
            parts.writer.endWatch(key)  // ended before the Writer said its key
        }
    }

    private func streamEvent(_ callID: UInt64, serial: UInt64, _ event: WatchEvent) {
        guard let stream = streams[callID], stream.serial == serial else { return }
        switch event {
        case .items(let items):
            stream.pending.append(contentsOf: items)
            drain(stream)
        case .ended(let end):
            stream.watch = nil  // the Writer already let it go
            endStream(callID, serial: serial, end)
        }
    }

    /// Writes what `stream` has waiting while the socket takes it; a client that leaves more
    /// than `WatchStream.pendingLimit` unread has its stream ended with where to resume.
    private func drain(_ stream: WatchStream) {
        guard let context, !closing else { return }
        var index = 0
        while index < stream.pending.count, context.channel.isWritable {
            let end = min(index + 256, stream.pending.count)
            for item in stream.pending[index..<end] { append(stream.frame(item)) }
            index = end
            // More than a chunk waits: write now, so the socket's writability says how much
            // more may go. The last chunk waits for the end of the turn instead.
            if end < stream.pending.count { flushOutbound(context) } else { flushAtEndOfTurn(context) }
        }
        stream.pending.removeFirst(index)
        if index > 0 { stream.feed?.written(index) }
        if stream.pending.count > WatchStream.pendingLimit {
            endStream(stream.callID, serial: stream.serial, StreamEnd(
                code: .resourceExhausted, reason: "WATCH_TOO_SLOW",
                message: "the client did not read its stream: \(stream.pending.count) changes waited; resume after the last position received",
                details: ["limit": String(WatchStream.pendingLimit)]))
        }
    }

    /// One journal report hands many streams of a connection their changes in one turn of the
    /// loop (or in a row of hops to it): their messages leave in one write, not one each.
    private func flushAtEndOfTurn(_ context: ChannelHandlerContext) {
        guard !flushQueued else { return }
        flushQueued = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = bound.value
            handler.flushQueued = false
            if let context = handler.context, !handler.closing { handler.flushOutbound(context) }
        }
    }

    /// Ends stream `callID` (of `serial`, when given) with `end` as its last frame.
    private func endStream(_ callID: UInt64, serial: UInt64? = nil, _ end: StreamEnd) {
        guard let stream = streams[callID], serial == nil || stream.serial == serial else { return }
        streams.removeValue(forKey: callID)
        stream.deadline?.cancel()
        stream.feed?.stop()
        if let key = stream.watch { parts.writer.endWatch(key) }
        guard let context, !closing else { return }
        answerAtOnce(stream.method, stream.finalFrame(end))
        flushOutbound(context)
        closeIfDone(context)
    }
}
