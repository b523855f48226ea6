import Foundation
import SwiftProtobuf
import TallyLedger
import TallyCodec
import TallyWire

/// Format 3's payload: the state's Snapshot message as the parts LedgerSnapshot encodes it in,
/// each after its length (u32 little-endian). Together the parts are one message, as in format
/// 2; the lengths let the reader take the parts one at a time: a part that holds one
/// transaction chunk alone is read straight from the file's bytes, on a thread of its own while
/// the rest is decoded, instead of being copied out by protobuf (a 10-million-transaction state
/// held its 1.7 GB twice while loading, and its resident memory stayed 700 MB higher after).
enum SnapshotParts {
    /// Hands the framed payload of `ledger` to `write`, a piece at a time.
    static func encode(_ ledger: Ledger, journalSequence: UInt64, into write: (UnsafeRawBufferPointer) throws -> Void) throws {
        try LedgerSnapshot.encode(ledger, journalSequence: journalSequence) { part in
            try withUnsafeBytes(of: UInt32(part.count).littleEndian) { try write($0) }
            try write(part)
        }
    }

    /// The message and the transactions of a framed payload. Throws what is wrong with it.
    static func decode(_ payload: UnsafeRawBufferPointer) throws -> (message: Tally_Store_V1_Snapshot, transactions: DenseLog<PackedTransaction>) {
        var parts: [Range<Int>] = []
        var chunks: [Range<Int>] = []
        var at = 0
        while at < payload.count {
            guard payload.count - at >= 4 else { throw StoreError("part length cut off at payload byte \(at)") }
            let length = Int(UInt32(littleEndian: payload.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            guard length <= payload.count - at - 4 else {
                throw StoreError("part at payload byte \(at) says \(length) bytes, \(payload.count - at - 4) are left")
            }
            let part = (at + 4)..<(at + 4 + length)
            if let chunk = chunkAlone(in: payload, part) { chunks.append(chunk) } else { parts.append(part) }
            at = part.upperBound
        }
        func view(_ range: Range<Int>) -> Data {
            // Protobuf copies what it keeps, so a view of the file's bytes is enough.
            Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: payload.baseAddress! + range.lowerBound), count: range.count, deallocator: .none)
        }
        var message = Tally_Store_V1_Snapshot()
        // The first part holds the next transaction id that the chunks are checked against.
        if let head = parts.first { try message.merge(serializedBytes: view(head)) }
        let chunkLoad = ChunkLoad(payload, chunks, below: message.nextTransactionID)
        defer { _ = chunkLoad.wait() }  // the thread reads `payload`: never return before it is done
        for part in parts.dropFirst() {
            try message.merge(serializedBytes: view(part))
        }
        let transactions = try chunkLoad.wait().get()
        return (message, transactions)
    }

    /// The chunk's bytes if `part` is a Snapshot holding one transaction chunk and nothing else
    /// (field 23, length-delimited: tag bytes 0xBA 0x01, then a varint length).
    private static func chunkAlone(in payload: UnsafeRawBufferPointer, _ part: Range<Int>) -> Range<Int>? {
        guard part.count > 3, payload[part.lowerBound] == 0xBA, payload[part.lowerBound + 1] == 0x01 else { return nil }
        var at = part.lowerBound + 2
        var length = 0
        var shift = 0
        while at < part.upperBound, shift < 35 {
            let byte = payload[at]
            at += 1
            length |= Int(byte & 0x7F) << shift
            if byte < 0x80 { return length == part.upperBound - at ? at..<part.upperBound : nil }
            shift += 7
        }
        return nil
    }
}

/// Transaction chunks decoded on a thread of their own.
private final class ChunkLoad: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var waited = false
    // Written by the thread before it signals, read after.
    private var result: Result<DenseLog<PackedTransaction>, Error> = .success(DenseLog())

    init(_ payload: UnsafeRawBufferPointer, _ chunks: [Range<Int>], below nextID: UInt64) {
        guard !chunks.isEmpty else {
            done.signal()
            return
        }
        // An address, not a pointer, crosses to the thread; the caller keeps the bytes alive
        // until `wait` returns.
        let address = UInt(bitPattern: payload.baseAddress!)
        Thread.detachNewThread { [self] in
            let base = UnsafeRawPointer(bitPattern: address)!
            result = Result {
                var log = DenseLog<PackedTransaction>()
                for chunk in chunks {
                    do {
                        try log.appendEncodedChunk(UnsafeRawBufferPointer(start: base + chunk.lowerBound, count: chunk.count), below: nextID)
                    } catch {
                        throw StoreError("\(error)")
                    }
                }
                return log
            }
            done.signal()
        }
    }

    /// The decoded log (or what was wrong), once the thread is done.
    func wait() -> Result<DenseLog<PackedTransaction>, Error> {
        if !waited {
            done.wait()
            waited = true
        }
        return result
    }
}
