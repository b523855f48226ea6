/// Who watches which users, for both kinds of watch: a watch names its users or watches every
/// user, and a change of one user finds its watches with one dictionary lookup. Touched only
/// on the Writer's loop.
final class WatchIndex<Sink> {
    struct Watch {
        var users: Set<String>?
        var sink: Sink
    }

    private(set) var watches: [UInt64: Watch] = [:]
    private var byUser: [String: [UInt64]] = [:]
    /// The watches of every user.
    private(set) var everyone: [UInt64] = []
    private var nextID: UInt64 = 1

    var isEmpty: Bool { watches.isEmpty }
    var count: Int { watches.count }
    /// The users some watch names.
    var namedUsers: Dictionary<String, [UInt64]>.Keys { byUser.keys }

    /// The watches that name `userID` (not those of every user).
    func naming(_ userID: String) -> [UInt64] { byUser[userID] ?? [] }

    /// Whether any watch wants `userID`'s changes.
    func wants(_ userID: String) -> Bool { !everyone.isEmpty || byUser[userID] != nil }

    func add(users: Set<String>?, sink: Sink) -> UInt64 {
        let id = nextID
        nextID += 1
        watches[id] = Watch(users: users, sink: sink)
        if let users {
            for user in users { byUser[user, default: []].append(id) }
        } else {
            everyone.append(id)
        }
        return id
    }

    /// Removes watch `id`; returns it, or nil when it was already gone.
    @discardableResult
    func remove(_ id: UInt64) -> Watch? {
        guard let watch = watches.removeValue(forKey: id) else { return nil }
        if let users = watch.users {
            for user in users {
                byUser[user]?.removeAll { $0 == id }
                if byUser[user]?.isEmpty == true { byUser.removeValue(forKey: user) }
            }
        } else {
            everyone.removeAll { $0 == id }
        }
        return watch
    }
}
