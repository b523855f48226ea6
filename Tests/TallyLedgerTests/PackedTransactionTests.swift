import Testing
import TallyLedger

/// Transactions are kept packed (numbers in a slot, strings as bytes in their chunk): each reads
/// back equal to what was recorded, byte for byte, across chunks and after a copy.
struct PackedTransactionTests {
    @Test func everyFieldReadsBackByteForByte() throws {
        var ledger = Ledger()
        // Decomposed and precomposed spellings are different bytes and must stay so; lengths
        // around the varint's 127/128 boundary and the limits.
        let texts = ["", "a", "e\u{301}", "\u{E9}", "🪙 tokens", String(repeating: "x", count: 127),
                     String(repeating: "y", count: 128), String(repeating: "é", count: 512)]
        var recorded: [Transaction] = []
        for i in 0..<2_100 {
            let text = texts[i % texts.count]
            let metadata: [ExactString: ExactString] = i % 3 == 0 ? [:] : [
                ExactString("order"): ExactString("o-\(i)"), ExactString("e\u{301}"): ExactString(fit(text, 256)),
            ]
            let user = "user-\(i % 7)-\(texts[(i + 1) % 5])"
            let credit = Command.credit(Credit(
                userID: user, amount: Int64(i + 1), kind: .purchase, reference: fit(text, 256),
                memo: text, idempotencyKey: i % 2 == 0 ? "key-\(i)" : "", metadata: metadata))
            recorded.append(try #require(ledger.apply(credit, at: t0 + Int64(i)).receipt).transaction)
            if i % 5 == 0 {
                recorded.append(try #require(ledger.apply(spend(user, 1, memo: text), at: t0 + Int64(i)).receipt).transaction)
            }
        }
        let copy = ledger
        _ = ledger.apply(credit("late", 5), at: t0 + 10_000)
        for tx in recorded {
            let held = try #require(copy.transactions[tx.id])
            #expect(held == tx)
            #expect(sameBytes(held.userID, tx.userID) && sameBytes(held.memo, tx.memo) && sameBytes(held.reference, tx.reference))
            #expect(held.metadata.keys.map(\.value).sorted().elementsEqual(tx.metadata.keys.map(\.value).sorted(), by: sameBytes))
            #expect(ledger.transactions[tx.id] == tx)
        }
        #expect(Array(copy.transactions.values) == recorded)
        #expect(copy.transactions[copy.nextTransactionID] == nil && ledger.transactions[copy.nextTransactionID]?.userID == "late")
        expectInvariants(ledger)
    }

    /// Metadata is packed in key order, not in the dictionary's: a dictionary's order follows
    /// its capacity, history and the process's hash seed, and the packed bytes are what
    /// snapshots and state digests hold, equal on every host of one log. Two dictionaries with
    /// the same entries in different orders (capacities) pack to the same bytes.
    @Test func metadataIsPackedInKeyOrder() throws {
        let entries = (0..<16).map { (ExactString("key-\($0)"), ExactString("value-\($0)")) }
        let compact = Dictionary(uniqueKeysWithValues: entries)
        var roomy: [ExactString: ExactString] = [:]
        for capacity in [64, 256, 1_024, 4_096] where roomy.isEmpty || Array(roomy.keys) == Array(compact.keys) {
            roomy = Dictionary(minimumCapacity: capacity)
            for (key, value) in entries.reversed() { roomy[key] = value }
        }
        try #require(Array(roomy.keys) != Array(compact.keys), "the two dictionaries iterate alike: nothing to compare")
        var chunks: [[[UInt8]]] = []
        for metadata in [compact, roomy] {
            var ledger = Ledger()
            _ = ledger.apply(.credit(Credit(userID: "ann", amount: 5, kind: .grant, metadata: metadata)), at: t0)
            var encoded: [[UInt8]] = []
            ledger.transactions.encodeChunks { encoded.append($0) }
            chunks.append(encoded)
        }
        #expect(chunks[0] == chunks[1])
    }

    /// `text`, or as many bytes of the longest ASCII at the limit when it is over.
    private func fit(_ text: String, _ bytes: Int) -> String {
        text.utf8.count <= bytes ? text : String(repeating: "z", count: bytes)
    }
}
