import TallyLedger
import TallyWire

/// The Writer's balance watches (Ledger/WatchBalance): who watches which users, and the durable
/// transactions each one is owed. Touched only on the Writer's loop. A durable batch costs one
/// dictionary lookup per transaction, whatever the number of watches (docs/protocol.md §5.1).
/// A class, not a struct: a sink may end its own watch while a delivery is under way (it
/// runs the connection's code on the same loop), which as a mutating struct method would be a
/// second exclusive access to the Writer's property.
final class BalanceWatchers {
    typealias Sink = WatchSink

    private let index = WatchIndex<Sink>()
    /// Live changes of the watches still catching up (their resumed changes are read off the loop).
    private var held: [UInt64: [Transaction]] = [:]
    /// Live changes a watch may hold while it catches up, before it is ended (it resumes later).
    static let heldLimit = 100_000

    var isEmpty: Bool { index.isEmpty }
    var count: Int { index.count }

    /// Registers a watch of `users` (nil: every user); `catchingUp` holds its live changes
    /// until `caughtUp`.
    func add(users: Set<String>?, catchingUp: Bool, sink: @escaping Sink) -> UInt64 {
        let id = index.add(users: users, sink: sink)
        if catchingUp { held[id] = [] }
        return id
    }

    /// Removes watch `id` (ended by its client or by the Writer); nothing more is sent to it.
    func remove(_ id: UInt64) {
        index.remove(id)
        held.removeValue(forKey: id)
    }

    /// Sends watch `id` its resumed `changes` (still catching up: live ones stay held).
    func send(_ id: UInt64, _ changes: [Transaction]) {
        index.watches[id]?.sink(.items(changes.map { .change($0) }))
    }

    /// Watch `id`'s resumed changes are all sent: `live`, then what it held meanwhile.
    func caughtUp(_ id: UInt64, position: UInt64) {
        guard let waiting = held.removeValue(forKey: id), let sink = index.watches[id]?.sink else { return }
        sink(.items([.live(position: position)] + waiting.map { .change($0) }))
    }

    /// Ends watch `id` with `refusal`.
    func end(_ id: UInt64, _ refusal: StreamEnd) {
        guard let watch = index.watches[id] else { return }
        remove(id)
        watch.sink(.ended(refusal))
    }

    /// Ends every watch (shutdown, a lost data directory).
    func endAll(_ refusal: StreamEnd) {
        for id in Array(index.watches.keys) { end(id, refusal) }
    }

    /// Sends each watch the durable `transactions` (ascending ids) of its users.
    func deliver(_ transactions: [Transaction]) {
        var owed: [UInt64: [Transaction]] = [:]
        for transaction in transactions {
            for id in index.naming(transaction.userID) { owed[id, default: []].append(transaction) }
            for id in index.everyone { owed[id, default: []].append(transaction) }
        }
        for (id, changes) in owed.sorted(by: { $0.key < $1.key }) {
            guard let watch = index.watches[id] else { continue }
            if held[id] != nil {
                held[id]!.append(contentsOf: changes)
                if held[id]!.count > Self.heldLimit {
                    end(id, StreamEnd(
                        code: .resourceExhausted, reason: "WATCH_TOO_SLOW",
                        message: "more than \(Self.heldLimit) live changes arrived while the resumed ones were read; resume after the last position received",
                        details: ["limit": String(Self.heldLimit)]))
                    continue
                }
            } else {
                watch.sink(.items(changes.map { .change($0) }))
            }
        }
    }
}
