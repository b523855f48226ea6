import Testing
@testable import TallyLedger

/// Transactions as snapshot chunks (format 3): a log reads back equal from its encoded chunks,
/// with holes left by archiving compacted away so that equal logs encode to equal bytes, and a
/// chunk that does not add up is refused with what is wrong, never read past its end.
struct TransactionChunksTests {
    /// 3,000 transactions over three chunks, strings of every length class and metadata.
    func sampleLog() -> (log: DenseLog<PackedTransaction>, transactions: [Transaction]) {
        let texts = ["", "a", "e\u{301}", "🪙 tokens", String(repeating: "x", count: 127), String(repeating: "y", count: 300)]
        var log = DenseLog<PackedTransaction>()
        var transactions: [Transaction] = []
        for id in UInt64(1)...3_000 {
            let text = texts[Int(id) % texts.count]
            let tx = Transaction(
                id: id, userID: "user-\(id % 11)", type: id % 4 == 0 ? .spend : .grant, amount: Int64(id),
                balanceBefore: Int64(id) * 3, balanceAfter: Int64(id) * 3 + (id % 4 == 0 ? -Int64(id) : Int64(id)),
                reference: text, memo: String(text.reversed()), idempotencyKey: id % 2 == 0 ? "key-\(id)" : "", createdAt: t0 + Int64(id),
                action: id % 5 == 0 ? "chat" : "", tier: id % 5 == 0 ? "pro" : "",
                metadata: id % 3 == 0 ? [ExactString("order"): ExactString("o-\(id)"), ExactString("note"): ExactString(text)] : [:])
            log[id] = tx
            transactions.append(tx)
        }
        return (log, transactions)
    }

    func decode(_ chunks: [[UInt8]], below nextID: UInt64 = 3_001) throws -> DenseLog<PackedTransaction> {
        var log = DenseLog<PackedTransaction>()
        for chunk in chunks {
            try chunk.withUnsafeBytes { try log.appendEncodedChunk($0, below: nextID) }
        }
        return log
    }

    func chunks(of log: DenseLog<PackedTransaction>) -> [[UInt8]] {
        var out: [[UInt8]] = []
        log.encodeChunks { out.append($0) }
        return out
    }

    @Test func aLogReadsBackFromItsChunksAndTakesNewTransactions() throws {
        let (log, transactions) = sampleLog()
        let encoded = chunks(of: log)
        #expect(encoded.count == 3, "ids 1-1023, 1024-2047, 2048-3000")
        var decoded = try decode(encoded)
        #expect(decoded == log && decoded.count == 3_000)
        #expect(Array(decoded.values) == transactions)
        var next = transactions[41]
        next.id = 3_001
        decoded[3_001] = next
        #expect(decoded[3_001] == next && decoded[3_000] == transactions[2_999] && decoded.count == 3_001)
    }

    @Test func archivedHolesAreCompactedSoEqualLogsEncodeEqually() throws {
        var (log, transactions) = sampleLog()
        // Retention removes older transactions here and there; a whole chunk goes too.
        for id in UInt64(1)...3_000 where id % 7 == 0 || (1_024..<2_048).contains(id) {
            log.removeValue(forKey: id)
        }
        transactions.removeAll { $0.id % 7 == 0 || (1_024..<2_048).contains($0.id) }
        var rebuilt = DenseLog<PackedTransaction>()
        for tx in transactions { rebuilt[tx.id] = tx }
        let encoded = chunks(of: log)
        #expect(encoded.count == 2, "an empty chunk is not written")
        #expect(encoded == chunks(of: rebuilt), "the removed transactions' strings are left out")
        let decoded = try decode(encoded)
        #expect(decoded == log && Array(decoded.values) == transactions)
        #expect(chunks(of: decoded) == encoded)
    }

    @Test func theInvariantPassSeesNumbersAndUsers() {
        let (log, transactions) = sampleLog()
        var seen: [(id: UInt64, packed: PackedTransaction, userID: String)] = []
        log.forEachPacked { seen.append(($0, $1, String(decoding: $2, as: UTF8.self))) }
        #expect(seen.count == transactions.count)
        for (lean, full) in zip(seen, transactions) {
            #expect(lean.id == full.id && lean.userID == full.userID && lean.packed.amount == full.amount && lean.packed.type == full.type)
            #expect(lean.packed.balanceBefore == full.balanceBefore && lean.packed.balanceAfter == full.balanceAfter)
            #expect(lean.packed.committedBefore == full.committedBefore && lean.packed.committedAfter == full.committedAfter)
            #expect(lean.packed.createdAt == full.createdAt)
        }
        var some: [UInt64] = []
        log.forEachPacked(where: { $0.count % 2 == 0 }) { id, _, _ in some.append(id) }
        #expect(some == transactions.filter { $0.userID.utf8.count % 2 == 0 }.map(\.id), "only the users asked for")
    }

    /// Each kind of damage, applied to a good first chunk, and the words that say so.
    @Test(arguments: [
        ("cut inside the header", "shorter than its header"),
        ("no slots", "is not a chunk's"),
        ("first id not a chunk's", "is not a chunk's"),
        ("strings longer than the chunk", "bytes of strings"),
        ("a slot flag of 2", "cut short or not a transaction"),
        ("unknown type", "unknown type 99"),
        ("a string past the end", "strings past its chunk's end"),
        ("bytes no slot uses", "strings no slot uses"),
    ])
    func aDamagedChunkIsRefused(damage: String, expected: String) throws {
        var chunk = chunks(of: sampleLog().log)[0]
        let header = 16
        let textStart = chunk.count - Int(UInt32(chunk[12]) | UInt32(chunk[13]) << 8 | UInt32(chunk[14]) << 16 | UInt32(chunk[15]) << 24)
        switch damage {
        case "cut inside the header": chunk = Array(chunk.prefix(10))
        case "no slots": chunk[8...11] = [0, 0, 0, 0]
        case "first id not a chunk's": chunk[0] = 5
        case "strings longer than the chunk": chunk[15] = 0x7F
        case "a slot flag of 2": chunk[header + 1] = 2  // slot 1 (slot 0, id 0, is absent: one byte)
        case "unknown type": chunk[header + 1 + 49] = 99  // slot 1: its flag, six numbers, then the type
        case "a string past the end": chunk[textStart] = 0xFF; chunk[textStart + 1] = 0x7F  // the first user id's length
        default: chunk.insert(0, at: textStart)
        }
        #expect {
            _ = try decode([chunk])
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func chunksOutOfOrderOrRepeatedAreRefused() throws {
        let encoded = chunks(of: sampleLog().log)
        #expect(throws: TransactionChunkError.self) { _ = try decode([encoded[1], encoded[0]]) }
        #expect(throws: TransactionChunkError.self) { _ = try decode([encoded[0], encoded[0]]) }
        #expect(throws: TransactionChunkError.self) { _ = try decode(encoded, below: 2_000) }
        #expect(try decode([encoded[0], encoded[2]]).count == 1_023 + 953, "a missing chunk in between is a gap, not an error here")
    }
}
