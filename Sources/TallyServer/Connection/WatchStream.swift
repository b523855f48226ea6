import Foundation
import NIOCore
import SwiftProtobuf
import TallyCodec
import TallyLedger
import TallyWire

/// One open stream on a connection (docs/protocol.md §5.1): what it sent last, and what waits
/// while the socket does not take more. Touched only on the connection's loop.
final class WatchStream {
    let serial: UInt64
    let callID: UInt64
    let method: Method
    /// The Writer's key for the watch, once registered (nil again once the Writer ended it).
    var watch: WatchKey?
    /// The last position sent: a client resumes after it.
    var position: UInt64
    /// Waiting for the socket: at most `pendingLimit`, then the stream ends WATCH_TOO_SLOW.
    var pending: [WatchItem] = []
    var deadline: Scheduled<Void>?
    /// The change feed's reader, for Admin/Changes: told what was written, stopped at the end.
    var feed: ChangeFeed?

    /// Changes a stream may have waiting for a client that does not read, before it is ended.
    static let pendingLimit = 10_000

    init(serial: UInt64, callID: UInt64, method: Method, position: UInt64) {
        self.serial = serial
        self.callID = callID
        self.method = method
        self.position = position
    }

    /// The frame of one message, `more` set; a balance change's position becomes the stream's.
    func frame(_ item: WatchItem) -> Tally_V1_Response {
        let message: any SwiftProtobuf.Message
        switch item {
        case .change(let transaction):
            position = max(position, transaction.id)
            message = Tally_V1_BalanceChange.with {
                $0.position = transaction.id
                $0.transaction = Tally_V1_Transaction(transaction)
            }
        case .live(let live):
            position = max(position, live)
            message = Tally_V1_BalanceChange.with {
                $0.position = position
                $0.live = true
            }
        case .usage(let change):
            message = Tally_V1_UsageChange.with {
                if let status = change.status {
                    $0.status = Tally_V1_UsageStatus(status)
                } else if let date = change.date {
                    $0.status.date = date.description
                }
                $0.cause = change.cause
            }
        case .usageLive:
            message = Tally_V1_UsageChange.with { $0.live = true }
        case .journal(let change):
            position = max(position, change.sequence)
            message = change
        }
        var response = Tally_V1_Response()
        response.callID = callID
        response.more = true
        response.payload = (try? message.serializedData()) ?? Data()
        return response
    }

    /// The last frame: `end`'s status, with the position to resume after.
    func finalFrame(_ end: StreamEnd) -> Tally_V1_Response {
        var details = end.details
        if method == .watchBalance || method == .changes, details["resume_after"] == nil { details["resume_after"] = String(position) }
        return Responses.error(callID: callID, end.code, reason: end.reason, end.message, details: details)
    }
}
