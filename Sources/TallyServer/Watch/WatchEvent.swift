import TallyLedger
import TallyWire

/// A stream's last frame: its status (docs/protocol.md §5.1).
struct StreamEnd: Sendable, Error {
    var code: Tally_V1_Code
    var reason: String
    var message: String
    var details: [String: String] = [:]
}

/// One message of a watch's stream, as the Writer hands it over (the connection encodes it).
enum WatchItem: Sendable {
    /// A durable balance change; its transaction's id is its position.
    case change(Transaction)
    /// The resumed balance changes (if any) are sent; `position`: the last durable transaction then.
    case live(position: UInt64)
    case usage(UsageWatchChange)
    /// The current usage standings are sent; live changes follow.
    case usageLive
    /// A record of the change feed (Admin/Changes), built by its reader; its sequence is its position.
    case journal(Tally_V1_JournalChange)
}

/// What a watch is told, on the Writer's loop, in order: messages, then possibly its end.
enum WatchEvent: Sendable {
    case items([WatchItem])
    /// The Writer ended the watch: why, as the stream's last frame.
    case ended(StreamEnd)
}

typealias WatchSink = @Sendable (WatchEvent) -> Void

/// A watch as the Writer knows it, for ending it.
enum WatchKey: Sendable, Equatable {
    case balance(UInt64)
    case usage(UInt64)
}
