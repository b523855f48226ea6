/// A transaction as the Ledger keeps it in memory: its numbers in a 56-byte slot, its strings
/// (user id, reference, memo, key, action, tier, metadata) as length-prefixed UTF-8 in its
/// chunk's bytes. A Transaction held 170 bytes inline plus a heap string for each long field;
/// history is most of the state, so this is most of the memory. Read back byte for byte.
public struct PackedTransaction: DenseRecord, Sendable {
    var amount: Int64
    var balanceBefore: Int64
    var balanceAfter: Int64
    var committedBefore: Int64
    var committedAfter: Int64
    var createdAt: Timestamp
    /// Where its strings start in the chunk's bytes.
    var offset: UInt32
    var type: TransactionType

    public init(packing tx: Transaction, into bytes: inout ContiguousArray<UInt8>) {
        // A chunk holds 1,024 transactions of at most a few KiB of text each.
        precondition(bytes.count < Int(UInt32.max), "a chunk's bytes outgrew 4 GiB")
        amount = tx.amount
        balanceBefore = tx.balanceBefore
        balanceAfter = tx.balanceAfter
        committedBefore = tx.committedBefore
        committedAfter = tx.committedAfter
        createdAt = tx.createdAt
        offset = UInt32(bytes.count)
        type = tx.type
        bytes.append(text: tx.userID)
        bytes.append(text: tx.reference)
        bytes.append(text: tx.memo)
        bytes.append(text: tx.idempotencyKey)
        bytes.append(text: tx.action)
        bytes.append(text: tx.tier)
        bytes.append(length: tx.metadata.count)
        // In key order, not the dictionary's: its order follows the process's hash seed, and
        // these bytes go into snapshots and digests, which must be equal on every host.
        for (key, value) in tx.metadata.sorted(by: { $0.key < $1.key }) {
            bytes.append(text: key.value)
            bytes.append(text: value.value)
        }
    }

    init(
        amount: Int64, balanceBefore: Int64, balanceAfter: Int64, committedBefore: Int64, committedAfter: Int64,
        createdAt: Timestamp, offset: UInt32, type: TransactionType
    ) {
        self.amount = amount
        self.balanceBefore = balanceBefore
        self.balanceAfter = balanceAfter
        self.committedBefore = committedBefore
        self.committedAfter = committedAfter
        self.createdAt = createdAt
        self.offset = offset
        self.type = type
    }

    /// Where the strings of the record whose strings start at `start` end, or nil if they run
    /// past `strings` (a damaged snapshot): 6 strings, then the metadata count and its pairs.
    static func stringsEnd(in strings: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var reader = CheckedTextReader(buffer: strings, at: start)
        for _ in 0..<6 {
            guard reader.skipText() else { return nil }
        }
        guard let entries = reader.length(), entries <= strings.count else { return nil }
        for _ in 0..<(2 * entries) {
            guard reader.skipText() else { return nil }
        }
        return reader.at
    }

    /// The UTF-8 of the first string (the user id) of the record whose strings start at `start`.
    static func firstTextBytes(in strings: UnsafeBufferPointer<UInt8>, at start: Int) -> UnsafeBufferPointer<UInt8> {
        var reader = TextReader(buffer: strings, at: start)
        let count = reader.length()
        return UnsafeBufferPointer(rebasing: strings[reader.at..<(reader.at + count)])
    }

    public func unpacked(id: UInt64, from bytes: ContiguousArray<UInt8>) -> Transaction {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = TextReader(buffer: buffer, at: Int(offset))
            let userID = reader.text()
            let reference = reader.text()
            let memo = reader.text()
            let key = reader.text()
            let action = reader.text()
            let tier = reader.text()
            var metadata: [ExactString: ExactString] = [:]
            let entries = reader.length()
            if entries > 0 {
                metadata.reserveCapacity(entries)
                for _ in 0..<entries { metadata[ExactString(reader.text())] = ExactString(reader.text()) }
            }
            return Transaction(
                id: id, userID: userID, type: type, amount: amount, balanceBefore: balanceBefore, balanceAfter: balanceAfter,
                committedBefore: committedBefore, committedAfter: committedAfter, reference: reference, memo: memo,
                idempotencyKey: key, createdAt: createdAt, action: action, tier: tier, metadata: metadata)
        }
    }
}

extension AuditEntry: DenseRecord {
    /// Audit entries stay as they are: at most `--audit-keep` of them are held.
    public init(packing value: AuditEntry, into bytes: inout ContiguousArray<UInt8>) { self = value }
    public func unpacked(id: UInt64, from bytes: ContiguousArray<UInt8>) -> AuditEntry { self }
}

extension ContiguousArray<UInt8> {
    /// A length as a base-128 varint: one byte for an empty or short string.
    mutating func append(length: Int) {
        var n = UInt64(length)
        while n >= 0x80 {
            append(UInt8(truncatingIfNeeded: n) | 0x80)
            n >>= 7
        }
        append(UInt8(n))
    }

    mutating func append(text: String) {
        var text = text
        text.withUTF8 { utf8 in
            append(length: utf8.count)
            append(contentsOf: utf8)
        }
    }
}

/// Reads what `append(text:)` wrote.
struct TextReader {
    let buffer: UnsafeBufferPointer<UInt8>
    var at: Int

    mutating func length() -> Int {
        var n: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = buffer[at]
            at += 1
            n |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return Int(n) }
            shift += 7
        }
    }

    mutating func text() -> String {
        let count = length()
        defer { at += count }
        return count == 0 ? "" : String(decoding: UnsafeBufferPointer(rebasing: buffer[at..<(at + count)]), as: UTF8.self)
    }
}

/// TextReader for bytes not yet trusted: every length is checked against the buffer.
private struct CheckedTextReader {
    let buffer: UnsafeBufferPointer<UInt8>
    var at: Int

    mutating func length() -> Int? {
        var n: UInt64 = 0
        var shift: UInt64 = 0
        while at < buffer.count, shift < 64 {
            let byte = buffer[at]
            at += 1
            n |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return n <= UInt64(Int.max) ? Int(n) : nil }
            shift += 7
        }
        return nil
    }

    mutating func skipText() -> Bool {
        guard at >= 0, let count = length(), count <= buffer.count - at else { return false }
        at += count
        return true
    }
}
