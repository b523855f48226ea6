import DequeModule
import TallyLedger
import TallyWire

/// One usage change for the watches: a user's standing and why it changed (a day's start for
/// every user is a status holding only the new date, with no user).
struct UsageWatchChange: Sendable {
    var status: UsageStatus?
    var date: CivilDay?
    var cause: Tally_V1_UsageChangeCause
    /// For one watch only (its users' standing when it began); nil: every watch of the user.
    var onlyWatch: UInt64?
}

/// The Writer's usage watches (Usage/WatchUsage). Changes are captured when a command is
/// applied and held until the journal says the record they follow is durable, so a watcher
/// never sees a count a crash could take back. Touched only on the Writer's loop; a class for
/// the same reason as BalanceWatchers.
final class UsageWatchers {
    typealias Sink = WatchSink

    private let index = WatchIndex<Sink>()
    /// Changes waiting for their record to be durable: (the last record before them, changes).
    private var held: Deque<(sequence: UInt64, changes: [UsageWatchChange], live: UInt64?)> = []

    var isEmpty: Bool { index.isEmpty }
    var count: Int { index.count }
    /// The users watched one by one (a day's start tells each of them).
    var namedUsers: Dictionary<String, [UInt64]>.Keys { index.namedUsers }

    /// Whether any watch wants `userID`'s changes.
    func watches(_ userID: String) -> Bool { index.wants(userID) }

    func add(users: Set<String>?, sink: @escaping Sink) -> UInt64 { index.add(users: users, sink: sink) }

    func remove(_ id: UInt64) { index.remove(id) }

    func end(_ id: UInt64, _ end: StreamEnd) {
        guard let watch = index.remove(id) else { return }
        watch.sink(.ended(end))
    }

    func endAll(_ end: StreamEnd) {
        for id in Array(index.watches.keys) { self.end(id, end) }
    }

    /// Holds `changes` (and, with `live`, that watch's live marker after them) until record
    /// `sequence` is durable.
    func hold(_ changes: [UsageWatchChange], afterRecord sequence: UInt64, live: UInt64? = nil) {
        held.append((sequence, changes, live))
    }

    /// Sends what every record through `durable` covers; drops what followed records that
    /// never became durable (a journal failure) when `dropAfter` is set.
    func release(durableThrough durable: UInt64) {
        while let first = held.first, first.sequence <= durable {
            held.removeFirst()
            deliver(first.changes)
            if let id = first.live { index.watches[id]?.sink(.items([.usageLive])) }
        }
    }

    /// After a journal failure: what followed records that were never durable never happened.
    func dropHeld(after durable: UInt64) {
        held.removeAll { $0.sequence > durable }
    }

    private func deliver(_ changes: [UsageWatchChange]) {
        var owed: [UInt64: [UsageWatchChange]] = [:]
        for change in changes {
            if let only = change.onlyWatch {
                owed[only, default: []].append(change)
                continue
            }
            guard let status = change.status else {
                for id in index.everyone { owed[id, default: []].append(change) }  // a day's start
                continue
            }
            for id in index.naming(status.userID) { owed[id, default: []].append(change) }
            // A day's start reaches a watch of every user as one message naming the day.
            if change.cause != .dayStart {
                for id in index.everyone { owed[id, default: []].append(change) }
            }
        }
        for (id, changes) in owed.sorted(by: { $0.key < $1.key }) {
            index.watches[id]?.sink(.items(changes.map { .usage($0) }))
        }
    }
}
