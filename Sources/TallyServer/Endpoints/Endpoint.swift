import Foundation
import NIOCore
import SwiftProtobuf
import TallyLedger
import TallyCodec
import TallyWire

/// One RPC in one place: who may call it, whether it changes the ledger, the rate limit it
/// counts against, how its request becomes work, and how the Writer's result becomes its answer.
/// `Endpoints.all` holds one per method; adding an RPC is its Ledger feature, one Endpoint and
/// its client wrappers (docs/architecture.md). A class: every call looks up its method's entry
/// (role, mutation, rate class, answer), and a reference is one word to hand around where a
/// struct of a string and two closures would be copied, with their retains, each time.
final class Endpoint: Sendable {
    /// What a request asks for, once its payload is read and checked.
    enum Work: Sendable {
        /// An operation for the Writer.
        case writer(WriterCall.Operation)
        /// Served off the Writer's turn by tallyd's other parts: a snapshot or backup, Health,
        /// or a read of a copy of the durable state (`scan`). The future answers the call; a
        /// failed one is answered INTERNAL.
        case offWriter(OffWriterWork)
        /// A stream (docs/protocol.md §5.1): its messages follow until it ends.
        case stream(StreamRequest)
        /// Refused before reaching the Writer, answered at once (reads: nothing to audit).
        case invalid(Refusal)
        /// Refused before reaching the Ledger, recorded in the audit log, then answered.
        case refused(Refusal)
    }

    let method: Method
    /// What the method touches, for the roles (docs/security.md).
    let access: MethodAccess
    /// Whether it changes the ledger (and so goes through the journal).
    let mutates: Bool
    /// The per-user rate limit a call counts against, if any.
    let rateClass: RateClass?
    /// The request message's full name, for MALFORMED_PAYLOAD messages.
    let requestType: String
    /// The payload to work; throws when it is not a valid request message.
    let decode: @Sendable (_ payload: Data, _ role: Role) throws -> Work
    /// The answer to a Writer result that is not a refusal (those are answered alike for every
    /// method, Responses.answer); nil for methods that never reach the Writer.
    let answer: (@Sendable (_ callID: UInt64, _ result: WriterAnswer.Result) -> OutboundResponse?)?

    /// An endpoint whose request is the message `Request`.
    init<Request: SwiftProtobuf.Message>(
        _ method: Method, _ access: MethodAccess, mutates: Bool = false, rateClass: RateClass? = nil, request: Request.Type,
        decode: @escaping @Sendable (Request, Role) -> Work,
        answer: (@Sendable (_ callID: UInt64, _ result: WriterAnswer.Result) -> OutboundResponse?)? = nil
    ) {
        self.method = method
        self.access = access
        self.mutates = mutates
        self.rateClass = rateClass
        self.requestType = Request.protoMessageName
        self.decode = { payload, role in decode(try Request(serializedBytes: payload), role) }
        self.answer = answer
    }
}

/// What a streaming call watches.
enum StreamRequest: Sendable, Equatable {
    /// Ledger/WatchBalance: `users` (nil: every user), from now or after a position.
    case balances(users: Set<String>?, resumeAfter: UInt64?)
    /// Usage/WatchUsage: `users` (nil: every user).
    case usage(users: Set<String>?)
    /// Admin/Changes: every durable journal record after `after`.
    case changes(after: UInt64)
}

/// A call served off the Writer: its answer, on any loop (the connection hops to its own);
/// `loop` is the connection's, for work that can answer on it directly.
typealias OffWriterWork = @Sendable (_ callID: UInt64, _ parts: OffWriterParts, _ loop: any EventLoop) -> EventLoopFuture<Tally_V1_Response>

/// The parts of tallyd that serve calls off the Writer's turn.
struct OffWriterParts: Sendable {
    let writer: Writer
    let snapshotter: Snapshotter
    let health: Health
    let metrics: MetricsScrape
}

extension Endpoint.Work {
    /// A read that scans the durable state (a list, a report): `body` runs on an O(1) copy of
    /// it off the Writer and the event loops (`Writer.scanDurable`) with the time of day; one
    /// that throws is answered INTERNAL with `reason`.
    static func scan(failing reason: String = "INTERNAL", _ body: @escaping @Sendable (Ledger, Timestamp) throws -> any SwiftProtobuf.Message) -> Self {
        .offWriter { callID, parts, _ in parts.writer.scanDurable(callID: callID, failing: reason, body) }
    }

    /// A read's argument that is not valid: answered INVALID_ARGUMENT at once.
    static func invalid(reason: String, _ message: String, details: [String: String] = [:]) -> Self {
        .invalid(Refusal(code: .invalidArgument, reason: reason, message: message, details: details))
    }
}

extension Method {
    /// This method's entry in `Endpoints.all`.
    var endpoint: Endpoint { Endpoints.byMethod[ordinal] }

    /// The method's position in `Method.allCases`: a case without payload is stored as its
    /// declaration index (Swift's ABI), so this is a load, not a search (EndpointTests checks
    /// it for every case).
    var ordinal: Int { Int(unsafeBitCast(self, to: UInt8.self)) }

    /// Whether the method changes the ledger.
    public var isMutation: Bool { endpoint.mutates }
    /// What the method touches, for the role table (docs/security.md).
    public var access: MethodAccess { endpoint.access }
    /// The per-user rate limit a call of this method counts against, if any.
    public var rateClass: RateClass? { endpoint.rateClass }
}
