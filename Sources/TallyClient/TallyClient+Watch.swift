import NIOCore
import SwiftProtobuf
import TallyWire

// Streams (docs/protocol.md §5.1).
extension TallyClient {
    /// Ledger/WatchBalance: every durable balance change of `userIDs` (or, for an admin,
    /// `allUsers`), in order; with `resumeAfter`, first every change after that position. The
    /// first message with `live` set says the watch is registered (after any resumed changes).
    /// The sequence ends by throwing the stream's last status (`TallyError`: the reason, and
    /// `details["resume_after"]`, the position to resume after); breaking out of the loop
    /// cancels the stream on the server.
    public func watchBalance(
        userIDs: [String] = [], allUsers: Bool = false, resumeAfter: UInt64? = nil, timeoutMs: UInt32 = 0
    ) -> TallyStream<Tally_V1_BalanceChange> {
        let request = Tally_V1_WatchBalanceRequest.with {
            $0.userIds = userIDs
            $0.allUsers = allUsers
            $0.resume = resumeAfter != nil
            $0.afterPosition = resumeAfter ?? 0
        }
        return stream(.watchBalance, request, timeoutMs: timeoutMs)
    }

    /// Usage/WatchUsage: the standing of `userIDs` now (cause CURRENT), a message with `live`
    /// set, then their standing after every durable consume, reserve, settle, release and
    /// expiry, and at each day's start. With `allUsers` (admins): every user's changes, and one
    /// DAY_START message a day naming the new date. Ends as `watchBalance` does.
    public func watchUsage(
        userIDs: [String] = [], allUsers: Bool = false, timeoutMs: UInt32 = 0
    ) -> TallyStream<Tally_V1_UsageChange> {
        stream(.watchUsage, Tally_V1_WatchUsageRequest.with {
            $0.userIds = userIDs
            $0.allUsers = allUsers
        }, timeoutMs: timeoutMs)
    }

    /// Admin/Changes (admins): the change feed: every durable journal record after
    /// `afterSequence` (0: from the journal's start), in order, each with the answer its call
    /// got, then a message with `live` set, then each new record as it becomes durable. Ends
    /// as `watchBalance` does; `details["resume_after"]` is the last sequence sent.
    public func changes(afterSequence: UInt64 = 0, timeoutMs: UInt32 = 0) -> TallyStream<Tally_V1_JournalChange> {
        stream(.changes, Tally_V1_ChangesRequest.with { $0.afterSequence = afterSequence }, timeoutMs: timeoutMs)
    }

    /// A streaming call of `method`: its messages decoded as `Message`.
    func stream<Message: SwiftProtobuf.Message>(
        _ method: Method, _ request: some SwiftProtobuf.Message, timeoutMs: UInt32
    ) -> TallyStream<Message> {
        let (messages, continuation) = AsyncThrowingStream.makeStream(of: Message.self, throwing: (any Error).self)
        let sink = StreamSink { response in
            do {
                continuation.yield(try Message(serializedBytes: response.payload))
            } catch {
                continuation.finish(throwing: TallyError(code: .internal, reason: "MALFORMED_RESPONSE", message: "a stream message did not decode: \(error)"))
            }
        }
        var envelope = Tally_V1_Request()
        envelope.protocolVersion = WireProtocol.version
        envelope.method = method.rawValue
        envelope.timeoutMs = timeoutMs
        // On the connection's loop, after the stream's own write (queued there before this
        // runs), so its call id is known even when the stream is cancelled at once.
        let cancel: @Sendable () -> Void = { [self] in
            channelLoop.execute { [self] in
                guard sink.callID != 0, sink.open else { return }
                var cancel = Tally_V1_Request()
                cancel.callID = sink.callID
                cancel.protocolVersion = WireProtocol.version
                cancel.cancel = true
                writeAndFlush(OutgoingCall(request: cancel, promise: channelLoop.makePromise(), wait: nil))
            }
        }
        do {
            envelope.payload = try request.serializedBytes()
        } catch {
            continuation.finish(throwing: error)
            return TallyStream(messages: messages, cancel: {})
        }
        let promise = channelLoop.makePromise(of: Tally_V1_Response.self)
        promise.futureResult.whenComplete { result in
            sink.open = false
            switch result {
            case .success(let last) where last.code == .ok: continuation.finish()
            case .success(let last): continuation.finish(throwing: TallyError(last))
            case .failure(let error): continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { termination in
            if case .cancelled = termination { cancel() }
        }
        writeAndFlush(OutgoingCall(request: envelope, promise: promise, wait: nil, stream: sink))
        return TallyStream(messages: messages, cancel: cancel)
    }
}

/// The messages of one stream, in order (docs/protocol.md §5.1). Iterating ends when tallyd
/// ends the stream with OK, and throws its last status otherwise (`TallyError`;
/// `details["resume_after"]` says where to resume a balance watch). Leaving the loop cancels the
/// stream on the server; `cancel()` does too, but lets the iteration read on to tallyd's last
/// frame (CANCELLED, with where to resume).
public struct TallyStream<Message: Sendable>: AsyncSequence, Sendable {
    public typealias Element = Message
    let messages: AsyncThrowingStream<Message, any Error>
    private let cancelAction: @Sendable () -> Void

    init(messages: AsyncThrowingStream<Message, any Error>, cancel: @escaping @Sendable () -> Void) {
        self.messages = messages
        self.cancelAction = cancel
    }

    public func makeAsyncIterator() -> AsyncThrowingStream<Message, any Error>.AsyncIterator {
        messages.makeAsyncIterator()
    }

    /// Asks tallyd to end the stream; what it sent before seeing the cancel is still read,
    /// then the iteration throws CANCELLED. Nothing happens once the stream has ended.
    public func cancel() {
        cancelAction()
    }
}
