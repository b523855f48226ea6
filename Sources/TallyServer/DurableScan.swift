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
    nonisolated func scanDurable(
        callID: UInt64, _ body: @escaping @Sendable (Ledger, Timestamp) -> any SwiftProtobuf.Message
    ) -> EventLoopFuture<Tally_V1_Response> {
        let writer = self
        return durableCopy().flatMap { (_, ledger) in
            let promise = writer.loop.makePromise(of: Tally_V1_Response.self)
            DispatchQueue.global().async {
                promise.succeed(Responses.ok(callID: callID, body(ledger, writer.wallClock.now())))
            }
            return promise.futureResult
        }
    }
}
