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
    ) -> AsyncThrowingStream<Tally_V1_BalanceChange, any Error> {
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
    ) -> AsyncThrowingStream<Tally_V1_UsageChange, any Error> {
        stream(.watchUsage, Tally_V1_WatchUsageRequest.with {
            $0.userIds = userIDs
            $0.allUsers = allUsers
        }, timeoutMs: timeoutMs)
    }

    /// A streaming call of `method`: its messages decoded as `Message`.
    func stream<Message: SwiftProtobuf.Message>(
        _ method: Method, _ request: some SwiftProtobuf.Message, timeoutMs: UInt32
    ) -> AsyncThrowingStream<Message, any Error> {
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
        do {
            envelope.payload = try request.serializedBytes()
        } catch {
            continuation.finish(throwing: error)
            return messages
        }
        let promise = channelLoop.makePromise(of: Tally_V1_Response.self)
        promise.futureResult.whenComplete { result in
            switch result {
            case .success(let last) where last.code == .ok: continuation.finish()
            case .success(let last): continuation.finish(throwing: TallyError(last))
            case .failure(let error): continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { [self] termination in
            guard case .cancelled = termination else { return }
            // On the connection's loop, after the stream's own write (queued there before this
            // runs), so its call id is known even when the loop was left at once.
            channelLoop.execute { [self] in
                guard sink.callID != 0 else { return }
                var cancel = Tally_V1_Request()
                cancel.callID = sink.callID
                cancel.protocolVersion = WireProtocol.version
                cancel.cancel = true
                writeAndFlush(OutgoingCall(request: cancel, promise: channelLoop.makePromise(), wait: nil))
            }
        }
        writeAndFlush(OutgoingCall(request: envelope, promise: promise, wait: nil, stream: sink))
        return messages
    }
}
