import TallyTestSupport
import Testing

@testable import TallyLedger

/// HistoryTotals against a Dictionary doing the same sums: ids short, 23 and 24 bytes long (the
/// inline limit), long and empty, a table grown well past its first capacity, the users no
/// account claimed, and sums that overflow Int64 named.
struct HistoryTotalsTests {
    @Test(arguments: [UInt64(1), 2, 3])
    func sumsMatchADictionarys(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        let users = (0..<3_000).map { i -> [UInt8] in
            switch i % 6 {
            case 0: return Array("u\(i)".utf8)
            case 1: return Array(String(repeating: "x", count: 23 - "\(i)".count).utf8) + Array("\(i)".utf8)  // 23 bytes
            case 2: return Array(String(repeating: "y", count: 24 - "\(i)".count).utf8) + Array("\(i)".utf8)  // 24 bytes
            case 3: return Array("0b7c3a52-8d4f-4c1e-9a6b-\(i)".utf8)
            case 4: return Array("ünïcödé-\(i)".utf8)
            default: return i == 5 ? [] : Array("v\(i)".utf8)
            }
        }
        var table = HistoryTotals(capacity: 8)  // grows many times
        var expected: [[UInt8]: HistoryTotals.Sums] = [:]
        for _ in 0..<20_000 {
            let user = users[Int(generator.next() % UInt64(users.count))]
            let sums = HistoryTotals.Sums(
                earned: Int64(generator.next() % 1_000), spent: Int64(generator.next() % 1_000),
                committed: Int64(generator.next() % 1_000) - 500, changes: 1)
            user.withUnsafeBufferPointer { table.add(sums, to: $0) }
            var total = expected[user, default: HistoryTotals.Sums()]
            total.earned += sums.earned
            total.spent += sums.spent
            total.committed += sums.committed
            total.changes += 1
            expected[user] = total
        }
        #expect(table.count == expected.count, "seed \(seed)")
        #expect(table.overflowed.isEmpty)
        // Claim all but every tenth user with history; ask for some without.
        var unclaimedExpected: Set<String> = []
        for (index, (user, sums)) in expected.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }).enumerated() {
            if index % 10 == 0 {
                unclaimedExpected.insert(String(decoding: user, as: UTF8.self))
                continue
            }
            let found = user.withUnsafeBufferPointer { table.claim($0) }
            #expect(found?.earned == sums.earned && found?.spent == sums.spent, "seed \(seed), user \(user)")
            #expect(found?.committed == sums.committed && found?.changes == sums.changes, "seed \(seed), user \(user)")
        }
        #expect(Array("nobody".utf8).withUnsafeBufferPointer { table.claim($0) } == nil)
        #expect(Array(String(repeating: "z", count: 40).utf8).withUnsafeBufferPointer { table.claim($0) } == nil)
        #expect(Set(table.unclaimed()) == unclaimedExpected, "seed \(seed)")
    }

    @Test func sumsBeyondInt64AreNamed() {
        var table = HistoryTotals(capacity: 4)
        let big = HistoryTotals.Sums(earned: .max, spent: 0, committed: 0, changes: 1)
        Array("ann".utf8).withUnsafeBufferPointer {
            table.add(big, to: $0)
            table.add(big, to: $0)
        }
        #expect(table.overflowed == ["ann"])
    }
}
