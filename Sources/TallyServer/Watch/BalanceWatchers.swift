import TallyLedger
import TallyWire

/// A stream's last frame: its status (docs/protocol.md §5.1).
struct StreamEnd: Sendable, Error {
    var code: Tally_V1_Code
    var reason: String
    var message: String
    var details: [String: String] = [:]
}

/// What a balance watch is told, on the Writer's loop, in order.
enum BalanceWatchEvent: Sendable {
    /// Durable changes of the watched users, ascending ids (a transaction's id is its position).
    case changes([Transaction])
    /// The resumed changes (if any) are all sent; live ones follow. `position`: the last durable
    /// transaction at that moment.
    case live(position: UInt64)
    /// The watch is over (the Writer ended it): why, as the stream's final status.
    case ended(StreamEnd)
}

/// The Writer's balance watches (Ledger/WatchBalance): who watches which users, and the durable
/// transactions each one is owed. Touched only on the Writer's loop. A durable batch costs one
/// dictionary lookup per transaction, whatever the number of watches (docs/protocol.md §5.1).
/// A class, not a struct: a sink may end its own watch while a delivery is under way (it
/// runs the connection's code on the same loop), which as a mutating struct method would be a
/// second exclusive access to the Writer's property.
final class BalanceWatchers {
    typealias Sink = @Sendable (BalanceWatchEvent) -> Void

    private struct Watch {
        var users: Set<String>?
        var sink: Sink
        /// Set while its resumed changes are read off the loop: live ones wait here.
        var held: [Transaction]?
    }

    private var watches: [UInt64: Watch] = [:]
    private var byUser: [String: [UInt64]] = [:]
    private var everyone: [UInt64] = []
    private var nextID: UInt64 = 1
    /// Live changes a watch may hold while it catches up, before it is ended (it resumes later).
    static let heldLimit = 100_000

    var isEmpty: Bool { watches.isEmpty }
    var count: Int { watches.count }

    /// Registers a watch of `users` (nil: every user); `catchingUp` holds its live changes
    /// until `caughtUp`.
    func add(users: Set<String>?, catchingUp: Bool, sink: @escaping Sink) -> UInt64 {
        let id = nextID
        nextID += 1
        watches[id] = Watch(users: users, sink: sink, held: catchingUp ? [] : nil)
        if let users {
            for user in users { byUser[user, default: []].append(id) }
        } else {
            everyone.append(id)
        }
        return id
    }

    /// Removes watch `id` (ended by its client or by the Writer); nothing more is sent to it.
    func remove(_ id: UInt64) {
        guard let watch = watches.removeValue(forKey: id) else { return }
        if let users = watch.users {
            for user in users {
                byUser[user]?.removeAll { $0 == id }
                if byUser[user]?.isEmpty == true { byUser.removeValue(forKey: user) }
            }
        } else {
            everyone.removeAll { $0 == id }
        }
    }

    /// Sends watch `id` its resumed `changes` (still catching up: live ones stay held).
    func send(_ id: UInt64, _ changes: [Transaction]) {
        watches[id]?.sink(.changes(changes))
    }

    /// Watch `id`'s resumed changes are all sent: `live`, then what it held meanwhile.
    func caughtUp(_ id: UInt64, position: UInt64) {
        guard let held = watches[id]?.held else { return }
        watches[id]?.held = nil
        let sink = watches[id]!.sink
        sink(.live(position: position))
        if !held.isEmpty { sink(.changes(held)) }
    }

    /// Ends watch `id` with `refusal`.
    func end(_ id: UInt64, _ refusal: StreamEnd) {
        guard let watch = watches[id] else { return }
        remove(id)
        watch.sink(.ended(refusal))
    }

    /// Ends every watch (shutdown, a lost data directory).
    func endAll(_ refusal: StreamEnd) {
        for id in Array(watches.keys) { end(id, refusal) }
    }

    /// Sends each watch the durable `transactions` (ascending ids) of its users.
    func deliver(_ transactions: [Transaction]) {
        var owed: [UInt64: [Transaction]] = [:]
        for transaction in transactions {
            for id in byUser[transaction.userID] ?? [] { owed[id, default: []].append(transaction) }
            for id in everyone { owed[id, default: []].append(transaction) }
        }
        for (id, changes) in owed.sorted(by: { $0.key < $1.key }) {
            guard var watch = watches[id] else { continue }
            if watch.held != nil {
                watch.held!.append(contentsOf: changes)
                if watch.held!.count > Self.heldLimit {
                    end(id, StreamEnd(
                        code: .resourceExhausted, reason: "WATCH_TOO_SLOW",
                        message: "more than \(Self.heldLimit) live changes arrived while the resumed ones were read; resume after the last position received",
                        details: ["limit": String(Self.heldLimit)]))
                    continue
                }
                watches[id] = watch
            } else {
                watch.sink(.changes(changes))
            }
        }
    }
}
