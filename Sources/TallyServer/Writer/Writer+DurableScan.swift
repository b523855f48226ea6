import Dispatch
import NIOCore
import SwiftProtobuf
import TallyLedger
import TallyWire

extension Writer {
    /// Runs a read that scans the state (a list, a report) on an O(1) copy of it, handed over
    /// once all it holds is durable, on a global dispatch queue: never on the Writer or an event
    /// loop, so a dashboard's query never delays a mutation. `body` gets the state and the time
    /// of day.
    /// A body that throws (a file it reads, the audit archive) answers `INTERNAL` with `reason`.
    nonisolated func scanDurable(
        callID: UInt64, failing reason: String = "INTERNAL", _ body: @escaping @Sendable (Ledger, Timestamp) throws -> any SwiftProtobuf.Message
    ) -> EventLoopFuture<Tally_V1_Response> {
        let writer = self
        return durableCopy().flatMap { (_, ledger) in
            let promise = writer.loop.makePromise(of: Tally_V1_Response.self)
            DispatchQueue.global().async {
                do {
                    promise.succeed(Responses.ok(callID: callID, try body(ledger, writer.wallClock.now())))
                } catch {
                    promise.succeed(Responses.error(callID: callID, .internal, reason: reason, "could not answer: \(error)"))
                }
            }
            return promise.futureResult
        }
    }
}
