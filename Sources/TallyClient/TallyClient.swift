import Glibc
import NIOCore
import NIOPosix
import SwiftProtobuf
import Synchronization
import TallyWire

/// An async client for tallyd over its Unix socket. Safe to share between tasks: calls from
/// many tasks are pipelined on the one connection and matched to their answers by call id.
public final class TallyClient: Sendable {
    private let channel: any Channel
    private let end: ConnectionEnd
    /// How much longer than a call's `timeout_ms` to wait for its answer. tallyd counts the
    /// deadline from when it read the call and answers DEADLINE_EXCEEDED itself, which says the
    /// call did not run; only past the grace does the client give up (CLIENT_TIMEOUT, outcome
    /// unknown), as the Python and C clients do.
    public let timeoutGrace: Duration
    /// Several hosts (docs/operations.md): the highest command-log position this connection's
    /// answers carried, and the `min_position` every unary call sends.
    private let positions = Mutex((highest: UInt64(0), minimum: UInt64(0)))

    private init(channel: any Channel, end: ConnectionEnd, timeoutGrace: Duration) {
        self.channel = channel
        self.end = end
        self.timeoutGrace = timeoutGrace
    }

    /// The highest command-log position this connection's answers carried (0 but on a node of
    /// several hosts): pass it to another host's `minPosition` to read what was written here.
    public var position: UInt64 { positions.withLock { $0.highest } }

    /// Sent with every unary call: tallyd answers once its node has applied the command log
    /// through this position (0, the default: at once).
    public var minPosition: UInt64 {
        get { positions.withLock { $0.minimum } }
        set { positions.withLock { $0.minimum = newValue } }
    }

    /// Calls given up on at their local deadline (their answers, if they come, are dropped).
    public var callsGivenUp: Int { end.callsGivenUp }

    /// Connects to the tallyd listening at `socketPath`. While tallyd's accept backlog is full
    /// (a burst of connects), the kernel refuses at once with EAGAIN; that is retried with
    /// backoff for up to `busyRetry`, then thrown.
    public static func connect(
        socketPath: String, maxFrameBytes: Int = Frame.defaultMaxBytes,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, busyRetry: Duration = .seconds(2),
        timeoutGrace: Duration = .seconds(1)
    ) async throws -> TallyClient {
        let giveUp = ContinuousClock.now + busyRetry
        var pause = Duration.milliseconds(2)
        while true {
            do {
                return try await connectOnce(socketPath: socketPath, maxFrameBytes: maxFrameBytes, group: group, timeoutGrace: timeoutGrace)
            } catch let error as IOError where error.errnoCode == EAGAIN && ContinuousClock.now + pause < giveUp {
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(100))
            }
        }
    }

    private static func connectOnce(
        socketPath: String, maxFrameBytes: Int, group: any EventLoopGroup, timeoutGrace: Duration
    ) async throws -> TallyClient {
        let end = ConnectionEnd()
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: maxFrameBytes)))
                    try channel.pipeline.syncOperations.addHandler(CallHandler(end: end))
                }
            }
            .connect(unixDomainSocketPath: socketPath).get()
        return TallyClient(channel: channel, end: end, timeoutGrace: timeoutGrace)
    }

    public func close() async {
        try? await channel.close()
    }

    // MARK: Ledger

    public func getBalance(userID: String, timeoutMs: UInt32 = 0) async throws -> Tally_V1_Balance {
        let response: Tally_V1_GetBalanceResponse = try await unary(
            .getBalance, Tally_V1_GetBalanceRequest.with { $0.userID = userID }, timeoutMs: timeoutMs)
        return response.balance
    }

    public func credit(_ request: Tally_V1_CreditRequest, timeoutMs: UInt32 = 0) async throws -> Tally_V1_CreditResponse {
        try await unary(.credit, request, timeoutMs: timeoutMs)
    }

    public func spend(_ request: Tally_V1_SpendRequest, timeoutMs: UInt32 = 0) async throws -> Tally_V1_SpendResponse {
        try await unary(.spend, request, timeoutMs: timeoutMs)
    }

    // MARK: Calls

    /// Calls `method` and decodes its answer; a non-OK status throws `TallyError`.
    public func unary<Reply: SwiftProtobuf.Message>(
        _ method: Method, _ request: some SwiftProtobuf.Message, timeoutMs: UInt32 = 0
    ) async throws -> Reply {
        var envelope = Tally_V1_Request()
        envelope.protocolVersion = WireProtocol.version
        envelope.method = method.rawValue
        envelope.timeoutMs = timeoutMs
        envelope.minPosition = minPosition
        envelope.payload = try request.serializedBytes()
        let response = try await send(envelope)
        if response.position != 0 { positions.withLock { $0.highest = max($0.highest, response.position) } }
        guard response.code == .ok else { throw TallyError(response) }
        return try Reply(serializedBytes: response.payload)
    }

    /// Pipelines `requests`: writes them all in order with one flush, then awaits every answer.
    /// Answers are returned in request order (matched by call id, whatever order they arrive in).
    public func sendAll(_ requests: [Tally_V1_Request]) async throws -> [Tally_V1_Response] {
        let loop = channel.eventLoop
        let promises = requests.map { _ in loop.makePromise(of: Tally_V1_Response.self) }
        for (request, promise) in zip(requests, promises) {
            channel.write(OutgoingCall(request: request, promise: promise, wait: wait(for: request))).whenFailure { [end] error in
                promise.fail(end.unsent(error))
            }
        }
        channel.flush()
        var responses: [Tally_V1_Response] = []
        responses.reserveCapacity(requests.count)
        for promise in promises {
            responses.append(try await promise.futureResult.get())
        }
        return responses
    }

    /// Sends a raw envelope and returns the raw response, whatever its status. A call id of 0
    /// is replaced by the next free one. For tests and tools that need the whole envelope.
    /// With a `timeout_ms`, throws CLIENT_TIMEOUT (outcome unknown) when no answer came within
    /// it plus `timeoutGrace`.
    public func send(_ request: Tally_V1_Request) async throws -> Tally_V1_Response {
        let promise = channel.eventLoop.makePromise(of: Tally_V1_Response.self)
        channel.writeAndFlush(OutgoingCall(request: request, promise: promise, wait: wait(for: request))).whenFailure { [end] error in
            // Never written (connection already closed): no answer can come; say why it closed.
            promise.fail(end.unsent(error))
        }
        return try await promise.futureResult.get()
    }

    /// The connection's loop, where answers complete.
    var channelLoop: any EventLoop { channel.eventLoop }

    /// Writes `call` now; one that cannot be written fails its promise with why.
    func writeAndFlush(_ call: OutgoingCall) {
        channel.writeAndFlush(call).whenFailure { [end] error in call.promise.fail(end.unsent(error)) }
    }

    private func wait(for request: Tally_V1_Request) -> TimeAmount? {
        guard request.timeoutMs > 0 else { return nil }
        let grace = timeoutGrace.components
        return .milliseconds(Int64(request.timeoutMs)) + .seconds(grace.seconds) + .nanoseconds(grace.attoseconds / 1_000_000_000)
    }
}

// Transaction history (tally.v1.Ledger).
extension TallyClient {
    public func getTransaction(id: UInt64, timeoutMs: UInt32 = 0) async throws -> Tally_V1_Transaction {
        let response: Tally_V1_GetTransactionResponse = try await unary(
            .getTransaction, Tally_V1_GetTransactionRequest.with { $0.transactionID = id }, timeoutMs: timeoutMs)
        return response.transaction
    }

    /// Newest first; pass the answer's `nextBeforeID` as `beforeID` for the next page.
    public func listTransactions(_ request: Tally_V1_ListTransactionsRequest, timeoutMs: UInt32 = 0) async throws
        -> Tally_V1_ListTransactionsResponse
    {
        try await unary(.listTransactions, request, timeoutMs: timeoutMs)
    }
}

// Admin reports.
extension TallyClient {
    /// `days`: revenue per day for this many days back (0: 30).
    public func stats(days: UInt32 = 0, timeoutMs: UInt32 = 0) async throws -> Tally_V1_StatsResponse {
        try await unary(.stats, Tally_V1_StatsRequest.with { $0.days = days }, timeoutMs: timeoutMs)
    }

    /// The figures `GET /metrics` serves, one sample per line of its text (any role).
    public func metrics(timeoutMs: UInt32 = 0) async throws -> Tally_V1_MetricsResponse {
        try await unary(.metrics, Tally_V1_MetricsRequest(), timeoutMs: timeoutMs)
    }
}
