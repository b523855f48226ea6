import Foundation
import NIOCore
import TallyCodec
import TallyLedger
import TallyWire

/// One open stream on a connection (docs/protocol.md §5.1): what it sent last, and what waits
/// while the socket does not take more. Touched only on the connection's loop.
final class WatchStream {
    enum Item {
        case change(Transaction)
        case live(position: UInt64)
    }

    let serial: UInt64
    let callID: UInt64
    let method: Method
    /// The Writer's id for the watch, once registered.
    var watchID: UInt64?
    /// The last position sent: a client resumes after it.
    var position: UInt64
    /// Waiting for the socket: at most `pendingLimit`, then the stream ends WATCH_TOO_SLOW.
    var pending: [Item] = []
    var deadline: Scheduled<Void>?

    /// Changes a stream may have waiting for a client that does not read, before it is ended.
    static let pendingLimit = 10_000

    init(serial: UInt64, callID: UInt64, method: Method, position: UInt64) {
        self.serial = serial
        self.callID = callID
        self.method = method
        self.position = position
    }

    /// The frame of one message, `more` set; the position it carries becomes the stream's.
    func frame(_ item: Item) -> Tally_V1_Response {
        var change = Tally_V1_BalanceChange()
        switch item {
        case .change(let transaction):
            change.position = transaction.id
            change.transaction = Tally_V1_Transaction(transaction)
        case .live(let position):
            change.position = max(position, self.position)
            change.live = true
        }
        position = max(position, change.position)
        var response = Tally_V1_Response()
        response.callID = callID
        response.more = true
        response.payload = (try? change.serializedData()) ?? Data()
        return response
    }

    /// The last frame: `end`'s status, with the position to resume after.
    func finalFrame(_ end: StreamEnd) -> Tally_V1_Response {
        var details = end.details
        if details["resume_after"] == nil { details["resume_after"] = String(position) }
        return Responses.error(callID: callID, end.code, reason: end.reason, end.message, details: details)
    }
}
