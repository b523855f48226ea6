/// Tokens per day, for the days with usage: one array of (day, tokens) kept in day order. A
/// user's daily records (35 kept) and each month's days (31 at most, 13 months kept) are this
/// small, so a binary search of one array beats hashing, and it takes one allocation of 16
/// bytes a day where a `TreeDictionary` took about 1 KB a month (docs/decisions.md).
public struct DayTokens<Day: Comparable & Sendable>: Sequence, Equatable, Sendable, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: Day, value: Int64)

    private struct Entry: Equatable, Sendable {
        var day: Day
        var tokens: Int64
    }

    private var entries: [Entry] = []

    public init() {}

    public init(dictionaryLiteral elements: (Day, Int64)...) {
        for (day, tokens) in elements { self[day] = tokens }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// Where `day` is, or where it would go.
    private func position(of day: Day) -> (index: Int, found: Bool) {
        let index = entries.partitioningIndex { $0.day >= day }
        return (index, index < entries.count && entries[index].day == day)
    }

    public subscript(day: Day) -> Int64? {
        get {
            let (index, found) = position(of: day)
            return found ? entries[index].tokens : nil
        }
        set {
            let (index, found) = position(of: day)
            switch (found, newValue) {
            case (true, let tokens?): entries[index].tokens = tokens
            case (true, nil): entries.remove(at: index)
            case (false, let tokens?): entries.insert(Entry(day: day, tokens: tokens), at: index)
            case (false, nil): break
            }
        }
    }

    public subscript(day: Day, default value: @autoclosure () -> Int64) -> Int64 {
        get { self[day] ?? value() }
        set { self[day] = newValue }
    }

    /// The days with usage, in order.
    public var keys: [Day] { entries.map(\.day) }
    public var values: [Int64] { entries.map(\.tokens) }

    /// Stores `tokens` for `day`; returns what it replaced, if anything.
    @discardableResult
    public mutating func updateValue(_ tokens: Int64, forKey day: Day) -> Int64? {
        defer { self[day] = tokens }
        return self[day]
    }

    /// Drops the days `shouldBeRemoved` picks (records past retention).
    public mutating func removeAll(where shouldBeRemoved: (Element) -> Bool) {
        entries.removeAll { shouldBeRemoved((key: $0.day, value: $0.tokens)) }
    }

    public func makeIterator() -> some IteratorProtocol<Element> {
        entries.lazy.map { (key: $0.day, value: $0.tokens) }.makeIterator()
    }
}

/// A month's tokens per day of the month (1...31).
public typealias MonthDays = DayTokens<UInt8>
