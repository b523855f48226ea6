import HashTreeCollections

/// Every user's usage by id: a hash tree from id to a slot number, and the values in chunks of
/// 1,024 slots. A consume changes its user where it lies: one lookup in the tree of small slot
/// numbers, no path copy, and no copy of the value out and back (a `TreeDictionary`'s modify
/// copies it, retaining every reference inside; 17% of tallyd's samples under consumes, see
/// docs/decisions.md). A copy of the book (a snapshot's) shares every chunk; the first write
/// after it copies that one chunk. Users are never removed, so slots stay dense.
public struct UsageUsers: Sequence, Equatable, Sendable {
    public typealias Element = (key: ExactString, value: UserUsage)

    private static let chunkShift = 10
    private static let chunkMask = (1 << chunkShift) - 1

    private var slots: TreeDictionary<ExactString, Int> = [:]
    private var chunks: [[UserUsage]] = []

    public init() {}

    public var count: Int { slots.count }
    public var isEmpty: Bool { slots.isEmpty }

    public subscript(id: ExactString) -> UserUsage? {
        slots[id].map { chunks[$0 >> Self.chunkShift][$0 & Self.chunkMask] }
    }

    public subscript(id: ExactString, default value: @autoclosure () -> UserUsage) -> UserUsage {
        get { self[id] ?? value() }
        set { updateValue(newValue, forKey: id) }
    }

    /// Runs `body` on `id`'s usage in place; nil, and `body` not run, when `id` has none.
    mutating func update<Result>(_ id: ExactString, _ body: (inout UserUsage) -> Result) -> Result? {
        guard let slot = slots[id] else { return nil }
        return body(&chunks[slot >> Self.chunkShift][slot & Self.chunkMask])
    }

    /// Stores `value` as `id`'s usage; returns the one it replaced, if any.
    @discardableResult
    public mutating func updateValue(_ value: UserUsage, forKey id: ExactString) -> UserUsage? {
        if let slot = slots[id] {
            let old = chunks[slot >> Self.chunkShift][slot & Self.chunkMask]
            chunks[slot >> Self.chunkShift][slot & Self.chunkMask] = value
            return old
        }
        let slot = slots.count
        slots[id] = slot
        if slot & Self.chunkMask == 0 {
            chunks.append([])
            chunks[chunks.count - 1].reserveCapacity(Self.chunkMask + 1)
        }
        chunks[slot >> Self.chunkShift].append(value)
        return nil
    }

    /// Every user's usage, in slot order.
    public var values: FlattenSequence<[[UserUsage]]> { chunks.joined() }

    public func makeIterator() -> some IteratorProtocol<Element> {
        let chunks = chunks
        return slots.lazy.map { (key: $0.key, value: chunks[$0.value >> Self.chunkShift][$0.value & Self.chunkMask]) }.makeIterator()
    }

    /// Equal when they hold the same users with equal usage, in whatever slots.
    public static func == (a: UsageUsers, b: UsageUsers) -> Bool {
        a.count == b.count && a.allSatisfy { b[$0.key] == $0.value }
    }
}
