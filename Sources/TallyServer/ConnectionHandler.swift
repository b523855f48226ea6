import Logging
import NIOCore
import SwiftProtobuf
import TallyWire

/// One client connection: decodes frames into calls, hands each read's calls to the Writer as
/// one batch, and writes the answers back with one flush per batch.
///
/// Backpressure: with `maxCallsInFlight` calls unanswered it stops reading from the socket
/// (the kernel buffer then fills and the client's writes block) until answers drain.
final class ConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let writer: Writer
    private let maxCallsInFlight: Int
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var batch: [WriterCall] = []
    private var outbound: ByteBuffer
    private var callsInFlight = 0
    private var readHeld = false
    private var closing = false

    init(writer: Writer, maxCallsInFlight: Int, logger: Logger) {
        self.writer = writer
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
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        let frame = unwrapInboundIn(data)
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
        switch CallDecoding.decode(request, receivedAt: NIODeadline.now()) {
        case .call(let call):
            batch.append(call)
        case .answer(let response):
            append(response)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if !batch.isEmpty {
            let calls = batch
            batch = []
            batch.reserveCapacity(calls.count)
            callsInFlight += calls.count
            let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
            writer.submit(calls) { answers in
                bound.eventLoop.execute { bound.value.deliver(answers) }
            }
        }
        flushOutbound(context)
        context.fireChannelReadComplete()
    }

    private func deliver(_ answers: [WriterAnswer]) {
        callsInFlight -= answers.count
        for answer in answers {
            append(Responses.answer(answer))
        }
        guard let context else { return }
        flushOutbound(context)
        if readHeld, callsInFlight < maxCallsInFlight {
            readHeld = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if callsInFlight >= maxCallsInFlight {
            readHeld = true
        } else {
            context.read()
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
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
            logger.error("could not encode a response", metadata: ["error": "\(error)"])
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
        append(Responses.error(callID: 0, code, reason: reason, message, details: details))
        let bytes = outbound
        outbound = context.channel.allocator.buffer(capacity: 0)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(bytes)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
