/// What each user's history adds up to, for the balance check: a table with open addressing
/// whose slot holds a user's id (inline up to 23 bytes) and their sums in one cache line.
///
/// Why not a Dictionary keyed by ExactString: the check looks a user up once per transaction,
/// ten million times at start-up, in an order that has nothing to do with the table's. A
/// Dictionary keeps keys and values in separate arrays, so each lookup missed the cache twice
/// (and built a String first); here it misses once. Sums are Int64: in a valid state every
/// partial sum is a balance or a total that an account holds, so one that overflows is
/// itself a broken invariant and is reported as such.
struct HistoryTotals {
    struct Sums: Equatable {
        var earned: Int64 = 0
        var spent: Int64 = 0
        var committed: Int64 = 0
        var changes: UInt64 = 0
    }

    /// 64 bytes. `hash` 0: empty; its bit 1 (`claimedBit`) says an account claimed it. The
    /// key: `word0..2` hold up to 23 bytes with the length in the top byte of `word2`; a
    /// longer id is `longKeys[word0]`, with 0xFF as the length.
    private struct Slot {
        var hash: UInt64 = 0
        var word0: UInt64 = 0
        var word1: UInt64 = 0
        var word2: UInt64 = 0
        var sums = Sums()
    }
    private static let claimedBit: UInt64 = 2

    /// A user id in the form a slot compares: short ones packed, long ones by their bytes.
    private struct Key {
        var hash: UInt64
        var word0: UInt64 = 0
        var word1: UInt64 = 0
        var word2: UInt64 = 0
        var long: UnsafeBufferPointer<UInt8>?

        init(_ utf8: UnsafeBufferPointer<UInt8>) {
            var hasher = Hasher()
            if utf8.count <= 23 {
                var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
                withUnsafeMutableBytes(of: &words) { raw in
                    raw.copyMemory(from: UnsafeRawBufferPointer(utf8))
                    raw[23] = UInt8(utf8.count)
                }
                word0 = words.0
                word1 = words.1
                word2 = words.2
                hasher.combine(word0)
                hasher.combine(word1)
                hasher.combine(word2)
            } else {
                long = utf8
                hasher.combine(bytes: UnsafeRawBufferPointer(utf8))
            }
            // Never 0 (an empty slot); bit 1 left for claimedBit.
            hash = UInt64(UInt(bitPattern: hasher.finalize())) & ~HistoryTotals.claimedBit | 1
        }
    }

    private var slots: [Slot]
    private var longKeys: [[UInt8]] = []
    private(set) var count = 0
    /// Users whose sums overflowed Int64 (only a broken state has any), each once.
    private(set) var overflowed: Set<String> = []

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }  // at most half full
        slots = [Slot](repeating: Slot(), count: size)
    }

    /// Adds `sums` to the user's (made at zero if new).
    mutating func add(_ sums: Sums, to user: UnsafeBufferPointer<UInt8>) {
        let index = slotIndex(of: Key(user), inserting: true)
        let total = slots[index].sums
        let earned = total.earned.addingReportingOverflow(sums.earned)
        let spent = total.spent.addingReportingOverflow(sums.spent)
        let committed = total.committed.addingReportingOverflow(sums.committed)
        if earned.overflow || spent.overflow || committed.overflow {
            overflowed.insert(String(decoding: user, as: UTF8.self))
        }
        slots[index].sums = Sums(
            earned: earned.partialValue, spent: spent.partialValue, committed: committed.partialValue,
            changes: total.changes &+ sums.changes)
    }

    /// The user's sums (nil if they have no history), and marks them as having an account.
    mutating func claim(_ user: UnsafeBufferPointer<UInt8>) -> Sums? {
        let index = slotIndex(of: Key(user), inserting: false)
        guard index >= 0 else { return nil }
        slots[index].hash |= Self.claimedBit
        return slots[index].sums
    }

    /// The users with history that no `claim` asked for.
    func unclaimed() -> [String] {
        slots.compactMap { slot in
            guard slot.hash != 0, slot.hash & Self.claimedBit == 0 else { return nil }
            if slot.word2 >> 56 == 0xFF { return String(decoding: longKeys[Int(slot.word0)], as: UTF8.self) }
            let words = (slot.word0, slot.word1, slot.word2)
            return withUnsafeBytes(of: words) { String(decoding: $0.prefix(Int(slot.word2 >> 56)), as: UTF8.self) }
        }
    }

    /// The slot of `key`, or where it goes (`inserting`, made there), or -1.
    private mutating func slotIndex(of key: Key, inserting: Bool) -> Int {
        if inserting && (count + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: key.hash) & mask
        while true {
            let slot = slots[index]
            if slot.hash == 0 {
                guard inserting else { return -1 }
                var made = Slot(hash: key.hash)
                if let long = key.long {
                    made.word0 = UInt64(longKeys.count)
                    made.word2 = 0xFF << 56
                    longKeys.append(Array(long))
                } else {
                    made.word0 = key.word0
                    made.word1 = key.word1
                    made.word2 = key.word2
                }
                slots[index] = made
                count += 1
                return index
            }
            if slot.hash & ~Self.claimedBit == key.hash {
                if let long = key.long {
                    if slot.word2 >> 56 == 0xFF && longKeys[Int(slot.word0)].elementsEqual(long) { return index }
                } else if slot.word0 == key.word0 && slot.word1 == key.word1 && slot.word2 == key.word2 {
                    return index
                }
            }
            index = (index + 1) & mask
        }
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        let mask = slots.count - 1
        for slot in old where slot.hash != 0 {
            var index = Int(truncatingIfNeeded: slot.hash) & mask
            while slots[index].hash != 0 { index = (index + 1) & mask }
            slots[index] = slot
        }
    }
}
