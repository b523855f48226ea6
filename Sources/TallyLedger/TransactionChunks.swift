/// The transactions a DenseLog holds, as bytes a chunk at a time, and back: how snapshots keep
/// history without a message per transaction (docs/decisions.md, "Snapshot format 3"). One
/// chunk encodes as
///
///     first id      u64 LE   the id of slot 0 (a multiple of 1,024)
///     slots         u32 LE   how many slots follow (at most 1,024)
///     text bytes    u32 LE   the length of the strings at the end
///     per slot      u8: 0 (no transaction) or 1, then for 1: amount, balance before, balance
///                   after, committed before, committed after, created at (i64 LE each), type (u8)
///     strings       each present slot's strings in slot order, as PackedTransaction packs them
///                   (user id, reference, memo, key, action, tier, metadata; varint lengths)
///
/// Encoding compacts: the strings of transactions removed since the chunk filled (archived)
/// are left out, so equal logs encode to equal bytes. Decoding checks every length against the
/// bytes it has, so a chunk that does not add up is refused rather than read past its end.
extension DenseLog where Record == PackedTransaction {
    /// Hands each chunk holding a transaction to `body`, encoded, lowest ids first.
    public func encodeChunks(_ body: ([UInt8]) throws -> Void) rethrows {
        for (index, chunk) in chunks.enumerated() where chunk.live > 0 {
            var out: [UInt8] = []
            out.reserveCapacity(16 + chunk.slots.count * 50 + chunk.bytes.count)
            var text: [UInt8] = []
            text.reserveCapacity(chunk.bytes.count)
            out.appendLittleEndian((firstChunk + UInt64(index)) << Self.chunkShift)
            out.appendLittleEndian(UInt32(chunk.slots.count))
            out.appendLittleEndian(UInt32(0))  // the strings' length, known at the end
            chunk.bytes.withUnsafeBufferPointer { strings in
                for slot in chunk.slots {
                    guard let record = slot else {
                        out.append(0)
                        continue
                    }
                    out.append(1)
                    out.appendLittleEndian(record.amount)
                    out.appendLittleEndian(record.balanceBefore)
                    out.appendLittleEndian(record.balanceAfter)
                    out.appendLittleEndian(record.committedBefore)
                    out.appendLittleEndian(record.committedAfter)
                    out.appendLittleEndian(record.createdAt)
                    out.append(UInt8(record.type.rawValue))
                    let start = Int(record.offset)
                    guard let end = PackedTransaction.stringsEnd(in: strings, from: start) else {
                        preconditionFailure("a transaction in memory has strings past its chunk's end")
                    }
                    text.append(contentsOf: strings[start..<end])
                }
            }
            withUnsafeBytes(of: UInt32(text.count).littleEndian) { length in
                out.replaceSubrange(12..<16, with: length)
            }
            out += text
            try body(out)
        }
    }

    /// Adds the encoded chunk `encoded` (chunks come in ascending order). Throws if it does not
    /// add up, repeats or goes back on an earlier chunk, or holds an id outside 1 ..< `nextID`.
    public mutating func appendEncodedChunk(_ encoded: UnsafeRawBufferPointer, below nextID: UInt64) throws {
        guard let (first, chunk) = try Self.decodeChunk(encoded.assumingMemoryBound(to: UInt8.self)) else { return }
        let number = first >> Self.chunkShift
        if chunks.isEmpty {
            firstChunk = number
        } else {
            let next = firstChunk + UInt64(chunks.count)
            guard number >= next else { throw TransactionChunkError("chunk of ids from \(first) is out of order or repeated") }
            for _ in next..<number { chunks.append(Chunk(slots: [], bytes: [], live: 0)) }
        }
        // decodeChunk returns chunks holding at least one transaction.
        let lowest = first + UInt64(chunk.slots.firstIndex { $0 != nil } ?? 0)
        let highest = first + UInt64(chunk.slots.lastIndex { $0 != nil } ?? 0)
        guard lowest >= 1, highest < nextID else {
            throw TransactionChunkError("chunk of ids \(lowest) to \(highest) holds ids outside those handed out (1 to \(nextID) exclusive)")
        }
        chunks.append(chunk)
        count += chunk.live
    }

    private static func decodeChunk(_ buffer: UnsafeBufferPointer<UInt8>) throws -> (first: UInt64, chunk: Chunk)? {
        var reader = LittleEndianReader(buffer)
        guard let first = reader.read(UInt64.self), let slotCount = reader.read(UInt32.self), let textCount = reader.read(UInt32.self) else {
            throw TransactionChunkError("a chunk of \(buffer.count) bytes is shorter than its header")
        }
        guard first & (UInt64(chunkSize) - 1) == 0, slotCount >= 1, slotCount <= chunkSize else {
            throw TransactionChunkError("chunk header (first id \(first), \(slotCount) slots) is not a chunk's")
        }
        guard Int(textCount) <= buffer.count - reader.at else {
            throw TransactionChunkError("chunk of ids from \(first) says \(textCount) bytes of strings, but has \(buffer.count - reader.at) bytes left")
        }
        let textStart = buffer.count - Int(textCount)
        let text = UnsafeBufferPointer(rebasing: buffer[textStart...])
        var slots = ContiguousArray<PackedTransaction?>()
        slots.reserveCapacity(chunkSize)
        var offset = 0
        var live = 0
        for slot in 0..<Int(slotCount) {
            guard let flag = reader.read(UInt8.self), reader.at <= textStart else { throw TransactionChunkError("chunk of ids from \(first) ends inside slot \(slot)") }
            if flag == 0 {
                slots.append(nil)
                continue
            }
            guard flag == 1,
                let amount = reader.read(Int64.self), let balanceBefore = reader.read(Int64.self),
                let balanceAfter = reader.read(Int64.self), let committedBefore = reader.read(Int64.self),
                let committedAfter = reader.read(Int64.self), let createdAt = reader.read(Int64.self),
                let rawType = reader.read(UInt8.self), reader.at <= textStart
            else { throw TransactionChunkError("transaction \(first + UInt64(slot)) is cut short or not a transaction") }
            guard let type = TransactionType(rawValue: Int(rawType)) else {
                throw TransactionChunkError("transaction \(first + UInt64(slot)) has unknown type \(rawType)")
            }
            guard let end = PackedTransaction.stringsEnd(in: text, from: offset) else {
                throw TransactionChunkError("transaction \(first + UInt64(slot)) has strings past its chunk's end")
            }
            slots.append(PackedTransaction(
                amount: amount, balanceBefore: balanceBefore, balanceAfter: balanceAfter, committedBefore: committedBefore,
                committedAfter: committedAfter, createdAt: createdAt, offset: UInt32(offset), type: type))
            offset = end
            live += 1
        }
        guard reader.at == textStart, offset == Int(textCount) else {
            throw TransactionChunkError("chunk of ids from \(first) has \(textStart - reader.at) bytes between its slots and strings, or strings no slot uses")
        }
        guard live > 0 else { return nil }
        return (first, Chunk(slots: slots, bytes: ContiguousArray(text), live: live))
    }

    /// Calls `body` with each transaction's id, numbers and user id's UTF-8, lowest id first:
    /// the invariant check reads only these, and making a Transaction (and a String) for each
    /// of millions, let alone unpacking their references, memos and metadata, was much of its
    /// time. Only the transactions of users whose id's UTF-8 `user` holds are passed (a part
    /// of the check takes a part of the users).
    func forEachPacked(
        where user: (UnsafeBufferPointer<UInt8>) -> Bool = { _ in true }, _ body: (UInt64, PackedTransaction, UnsafeBufferPointer<UInt8>) -> Void
    ) {
        for (index, chunk) in chunks.enumerated() where chunk.live > 0 {
            let first = (firstChunk + UInt64(index)) << Self.chunkShift
            chunk.bytes.withUnsafeBufferPointer { strings in
                for (slot, packed) in chunk.slots.enumerated() {
                    guard let packed else { continue }
                    let userID = PackedTransaction.firstTextBytes(in: strings, at: Int(packed.offset))
                    guard user(userID) else { continue }
                    body(first + UInt64(slot), packed, userID)
                }
            }
        }
    }
}

public struct TransactionChunkError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension [UInt8] {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

/// Reads little-endian integers from a buffer; nil past its end.
struct LittleEndianReader {
    let buffer: UnsafeBufferPointer<UInt8>
    var at = 0

    init(_ buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

    mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard buffer.count - at >= size else { return nil }
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[at..<(at + size)]))) }
        at += size
        return T(littleEndian: value)
    }
}
