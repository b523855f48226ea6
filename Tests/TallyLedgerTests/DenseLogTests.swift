import Testing
import TallyLedger
import TallyTestSupport

/// DenseLog against a plain Dictionary: random appends, sparse removals (retention), prefix
/// trims (the audit trim), copies kept across writes (snapshots), with fixed seeds.
struct DenseLogTests {
    @Test(arguments: [1, 2, 3, 0xDEAD_BEEF] as [UInt64])
    func agreesWithADictionary(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var log = DenseLog<PackedText>()
        var model: [UInt64: String] = [:]
        var nextID: UInt64 = 1
        var copies: [(DenseLog<PackedText>, [UInt64: String])] = []
        for step in 0..<8_000 {
            switch random.next() % 10 {
            case 0...5:
                // Appends, sometimes a run long enough to cross chunks.
                for _ in 0..<(random.next() % 50 == 0 ? 1 + Int(random.next() % 3_000) : 1) {
                    let value = "v\(nextID)"
                    #expect(log.updateValue(value, forKey: nextID) == nil, "seed \(seed) step \(step)")
                    model[nextID] = value
                    nextID += 1
                }
            case 6:
                // A sparse removal anywhere.
                guard nextID > 1 else { continue }
                let id = 1 + random.next() % (nextID - 1)
                #expect(log.removeValue(forKey: id) == model.removeValue(forKey: id), "seed \(seed) step \(step)")
            case 7:
                // Drop a prefix, as the audit trim does.
                let through = model.keys.min().map { $0 + random.next() % 2_500 } ?? 0
                for id in model.keys where id <= through {
                    #expect(log.removeValue(forKey: id) != nil, "seed \(seed) step \(step)")
                    model[id] = nil
                }
            case 8:
                // Replace a value in place.
                guard let id = model.keys.randomElement(using: &random) else { continue }
                #expect(log.updateValue("r\(step)", forKey: id) == model.updateValue("r\(step)", forKey: id), "seed \(seed)")
            default:
                if copies.count < 4 { copies.append((log, model)) } else { copies.removeFirst() }
            }
            #expect(log.count == model.count, "seed \(seed) step \(step)")
            if step % 997 == 0 { expectSame(log, model, "seed \(seed) step \(step)") }
        }
        expectSame(log, model, "seed \(seed) at the end")
        // Copies taken along the way did not see later writes.
        for (copy, copied) in copies { expectSame(copy, copied, "seed \(seed), a kept copy") }
        // Lookups of ids never stored, far below and far above.
        for id: UInt64 in [0, 1, nextID, nextID + 5_000, UInt64.max] where model[id] == nil { #expect(log[id] == nil) }
    }

    /// The audit trim's prefix removal against removing the same ids one by one: from sparse
    /// logs (removals inside), through every kind of boundary, with a copy kept across it.
    @Test(arguments: [7, 8, 0xFACE] as [UInt64])
    func removingAPrefixMatchesRemovingEachID(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        for round in 0..<60 {
            var log = DenseLog<PackedText>()
            var model: [UInt64: String] = [:]
            let first = UInt64.random(in: 1...3_000, using: &random)
            for id in first..<(first + UInt64.random(in: 0...5_000, using: &random)) where !random.chance(10) {
                log[id] = "e\(id)"
                model[id] = "e\(id)"
            }
            for _ in 0..<Int.random(in: 0...40, using: &random) {  // sparse removals, some emptying a chunk
                guard let id = model.keys.randomElement(using: &random) else { break }
                log[id] = nil
                model[id] = nil
            }
            let copy = log, copied = model
            let through = random.pick([0, first - 1, first, first + 1_023, first + UInt64.random(in: 0...6_000, using: &random), UInt64.max - 1])
            let expected = model.keys.filter { $0 <= through }.count
            #expect(log.removeAll(through: through) == expected, "seed \(seed) round \(round) through \(through)")
            model = model.filter { $0.key > through }
            #expect(log.count == model.count, "seed \(seed) round \(round)")
            expectSame(log, model, "seed \(seed) round \(round) after removeAll(through: \(through))")
            expectSame(copy, copied, "seed \(seed) round \(round): the copy")
            // Appends go on after a trim, even one that emptied the log.
            let next = (model.keys.max() ?? copied.keys.max() ?? first) + 1
            log[next] = "n"
            model[next] = "n"
            expectSame(log, model, "seed \(seed) round \(round) after an append")
        }
    }

    @Test func idsInAnyOrderAndEqualityByContent() {
        var a = DenseLog<Number>()
        var b = DenseLog<Number>()
        for id: UInt64 in [5_000, 3, 70_000, 1_025] { a[id] = Int(id) }
        for id: UInt64 in [3, 1_025, 5_000, 70_000] { b[id] = Int(id) }
        #expect(a == b)
        #expect(Array(a.keys) == [3, 1_025, 5_000, 70_000])
        b[5_000] = nil
        #expect(a != b && b.count == 3 && b[5_000] == nil && b[70_000] == 70_000)
        var emptied = a
        for id in Array(a.keys) { emptied[id] = nil }
        #expect(emptied.isEmpty && Array(emptied).isEmpty && emptied == DenseLog<Number>())
        emptied[70_001] = 1
        #expect(Array(emptied.keys) == [70_001])
    }

    private func expectSame(_ log: DenseLog<PackedText>, _ model: [UInt64: String], _ label: String) {
        let listed = Array(log)
        #expect(listed.map(\.key) == model.keys.sorted(), "\(label): ids in order")
        #expect(listed.allSatisfy { model[$0.key] == $0.value }, "\(label): values")
        #expect(model.allSatisfy { log[$0.key] == $0.value }, "\(label): lookups")
    }
}

/// A string kept in the chunk's bytes (as transactions keep theirs), to exercise them.
struct PackedText: DenseRecord {
    var start: Int
    var count: Int

    init(packing value: String, into bytes: inout ContiguousArray<UInt8>) {
        start = bytes.count
        count = value.utf8.count
        bytes.append(contentsOf: value.utf8)
    }

    func unpacked(id: UInt64, from bytes: ContiguousArray<UInt8>) -> String {
        String(decoding: bytes[start..<(start + count)], as: UTF8.self)
    }
}

/// A number kept in the slot.
struct Number: DenseRecord {
    var value: Int
    init(packing value: Int, into bytes: inout ContiguousArray<UInt8>) { self.value = value }
    func unpacked(id: UInt64, from bytes: ContiguousArray<UInt8>) -> Int { value }
}
