/// Records keyed by dense, increasing ids (transactions, audit entries), held in fixed-size
/// chunks of consecutive ids.
///
/// Why not a `TreeDictionary`: ids are handed out one after another, so an id's place is
/// arithmetic, not a hash. Appending touches only the last chunk (no node path to copy, no
/// hashing), the records sit next to each other in memory, and dropping old ids (the audit
/// trim, retention) frees whole chunks. A copy of the log (a snapshot's) shares every chunk;
/// the next write copies the chunk list and the one chunk it changes, not the log.
public struct DenseLog<Record: DenseRecord> {
    public typealias Value = Record.Value

    /// 1,024 ids a chunk: a chunk of transactions is about 170 KB, copied whole by the first write
    /// into it after a snapshot copy.
    static var chunkShift: UInt64 { 10 }
    static var chunkSize: Int { 1 << chunkShift }

    struct Chunk {
        /// Slot i holds id `(number << chunkShift) + i`; slots past the end are absent.
        var slots: ContiguousArray<Record?>
        /// The variable-length parts of the chunk's records (strings), one after another.
        var bytes: ContiguousArray<UInt8>
        var live: Int
    }

    var chunks: ContiguousArray<Chunk> = []
    /// The chunk number (id >> chunkShift) of `chunks[0]`.
    var firstChunk: UInt64 = 0
    /// How many ids hold a record.
    public internal(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public subscript(id: UInt64) -> Value? {
        get {
            let (chunk, slot) = place(of: id)
            guard chunk >= 0, chunk < chunks.count else { return nil }
            return chunks[chunk].value(at: slot, id: id)
        }
        set {
            if let newValue { updateValue(newValue, forKey: id) } else { removeValue(forKey: id) }
        }
    }

    /// Stores `value` under `id`; returns what was there.
    @discardableResult
    public mutating func updateValue(_ value: Value, forKey id: UInt64) -> Value? {
        var (chunk, slot) = place(of: id)
        if chunks.isEmpty {
            firstChunk = id >> Self.chunkShift
            chunk = 0
        } else if chunk < 0 {
            // An id below every chunk: only a rebuild out of order does this.
            let missing = -chunk
            chunks.insert(contentsOf: (0..<missing).map { _ in Chunk(slots: [], bytes: [], live: 0) }, at: 0)
            firstChunk -= UInt64(missing)
            chunk = 0
        }
        while chunk >= chunks.count {
            var slots = ContiguousArray<Record?>()
            slots.reserveCapacity(Self.chunkSize)
            chunks.append(Chunk(slots: slots, bytes: [], live: 0))
        }
        let old: Value? = chunks[chunk].store(value, at: slot, id: id)
        if old == nil { count += 1 }
        return old
    }

    /// Removes the record under `id`; returns it. Chunks left empty at the front are dropped
    /// and an empty chunk inside frees its storage.
    @discardableResult
    public mutating func removeValue(forKey id: UInt64) -> Value? {
        let (chunk, slot) = place(of: id)
        guard chunk >= 0, chunk < chunks.count, let old = chunks[chunk].value(at: slot, id: id) else { return nil }
        chunks[chunk].slots[slot] = nil
        chunks[chunk].live -= 1
        count -= 1
        if chunks[chunk].live == 0 {
            if chunk == 0 {
                let empty = chunks.prefix { $0.live == 0 }.count
                // Keep the last chunk so that appends stay where they were.
                let drop = empty == chunks.count ? empty - 1 : empty
                chunks.removeFirst(drop)
                firstChunk += UInt64(drop)
                if chunks.count == 1 && chunks[0].live == 0 { chunks[0].empty() }
            } else if chunk < chunks.count - 1 {
                chunks[chunk].empty()
            }
        }
        return old
    }

    /// Removes every record with an id up to `id` (the audit trim); returns how many there
    /// were. Whole chunks go in one step and the boundary chunk's slots are cleared without
    /// unpacking a record: removing them one by one unpacked each (its strings rebuilt) only to
    /// drop it, 80-120 ms of one Writer turn for a trim of 100,000s of entries.
    @discardableResult
    public mutating func removeAll(through id: UInt64) -> Int {
        guard !chunks.isEmpty else { return 0 }
        let (chunk, slot) = place(of: id)
        guard chunk >= 0 else { return 0 }
        let before = count
        // Chunks wholly at or below `id` lose every record; they are dropped below.
        for index in 0..<Swift.min(chunk, chunks.count) {
            count -= chunks[index].live
            chunks[index].live = 0
        }
        // The chunk holding `id`: its slots up to `id`.
        if chunk < chunks.count, !chunks[chunk].slots.isEmpty {
            var cleared = 0
            for index in 0...Swift.min(slot, chunks[chunk].slots.count - 1) where chunks[chunk].slots[index] != nil {
                chunks[chunk].slots[index] = nil
                cleared += 1
            }
            chunks[chunk].live -= cleared
            count -= cleared
        }
        // Empty chunks at the front go, as in removeValue; the last stays so appends stay put.
        let empty = chunks.prefix { $0.live == 0 }.count
        let drop = empty == chunks.count ? empty - 1 : empty
        chunks.removeFirst(drop)
        firstChunk += UInt64(drop)
        if chunks.count == 1 && chunks[0].live == 0 { chunks[0].empty() }
        return before - count
    }

    /// The chunk index (negative when below the first chunk) and slot of `id`.
    private func place(of id: UInt64) -> (chunk: Int, slot: Int) {
        let number = id >> Self.chunkShift
        let slot = Int(id & (UInt64(Self.chunkSize) - 1))
        if number >= firstChunk { return (Int(clamping: number - firstChunk), slot) }
        return (-Int(clamping: firstChunk - number), slot)
    }

    /// The records, lowest id first.
    public var values: LazyMapSequence<DenseLog, Value> { lazy.map(\.value) }
    public var keys: LazyMapSequence<DenseLog, UInt64> { lazy.map(\.key) }
}

extension DenseLog.Chunk {
    func value(at slot: Int, id: UInt64) -> Record.Value? {
        guard slot < slots.count, let record = slots[slot] else { return nil }
        return record.unpacked(id: id, from: bytes)
    }

    /// Stores `value` in `slot`, padding absent slots before it; returns what was there. A
    /// replaced record's bytes stay in the chunk until it is emptied (replacing is rare).
    mutating func store(_ value: Record.Value, at slot: Int, id: UInt64) -> Record.Value? {
        let record = Record(packing: value, into: &bytes)
        if slot < slots.count {
            let old = self.value(at: slot, id: id)
            slots[slot] = record
            if old == nil { live += 1 }
            return old
        }
        if slots.capacity < DenseLog.chunkSize { slots.reserveCapacity(DenseLog.chunkSize) }
        while slots.count < slot { slots.append(nil) }
        slots.append(record)
        live += 1
        return nil
    }

    mutating func empty() {
        slots = []
        bytes = []
    }
}

extension DenseLog: Sequence {
    public struct Iterator: IteratorProtocol {
        let log: DenseLog
        var chunk = 0
        var slot = 0

        public mutating func next() -> (key: UInt64, value: Value)? {
            while chunk < log.chunks.count {
                let held = log.chunks[chunk]
                while slot < held.slots.count {
                    defer { slot += 1 }
                    let id = ((log.firstChunk + UInt64(chunk)) << DenseLog.chunkShift) + UInt64(slot)
                    if let value = held.value(at: slot, id: id) { return (id, value) }
                }
                chunk += 1
                slot = 0
            }
            return nil
        }
    }

    public func makeIterator() -> Iterator { Iterator(log: self) }
    public var underestimatedCount: Int { count }
}

extension DenseLog: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (UInt64, Value)...) {
        for (id, value) in elements { updateValue(value, forKey: id) }
    }
}

extension DenseLog: Equatable where Record.Value: Equatable {
    public static func == (a: DenseLog, b: DenseLog) -> Bool {
        a.count == b.count && a.elementsEqual(b) { $0.key == $1.key && $0.value == $1.value }
    }
}

extension DenseLog: Sendable where Record: Sendable {}
extension DenseLog.Chunk: Sendable where Record: Sendable {}

/// How a DenseLog keeps a value: fixed-size fields in the slot, variable-length ones (strings)
/// appended to its chunk's bytes, so that a record costs no allocation of its own.
public protocol DenseRecord {
    associatedtype Value
    init(packing value: Value, into bytes: inout ContiguousArray<UInt8>)
    func unpacked(id: UInt64, from bytes: ContiguousArray<UInt8>) -> Value
}
