/// What the bytes left at the very end of the journal say about how they got there.
///
/// A write the crash interrupted leaves the record short: the file ends inside it, or the
/// sectors it never reached are still the zeros the journal wrote ahead (PosixSegmentFile), and
/// devices write a 512-byte sector whole or not at all. Such a record was never fdatasynced, so
/// with `--fsync always` nobody was answered for it. A record whose bytes are all there and fail
/// their checksum anyway may be the same torn write (sectors persisted out of order, a device
/// without atomic sectors) or a complete, answered record the disk damaged since; nothing in
/// its bytes tells which (TigerBeetle tells them apart with redundant headers in a separate
/// ring; this format has one copy), so recovery says so and keeps the bytes.
public enum TornTail: Sendable, Equatable {
    /// The record stops short: the write never finished.
    case torn
    /// All of the record's bytes are there but fail their checksum: a torn write or damage.
    /// `sequence` is the record number its header names, when the header is plausible.
    case unverifiable(sequence: UInt64?)

    static let sectorBytes = 512

    init(_ bytes: [UInt8], at offset: Int) {
        guard bytes.count - offset >= JournalRecord.headerBytes else {
            self = .torn  // the file ends inside the header
            return
        }
        let length = Int(JournalRecord.bigEndian(UInt32.self, bytes[...], at: offset))
        guard length <= JournalRecord.maxPayloadBytes else {
            self = .unverifiable(sequence: nil)  // a header no write of ours makes
            return
        }
        let end = offset + JournalRecord.headerBytes + length
        guard end <= bytes.count else {
            self = .torn  // the file ends inside the record
            return
        }
        // Whole sectors from a boundary inside the record to its end never written.
        var boundary = (offset / Self.sectorBytes + 1) * Self.sectorBytes
        while boundary < end {
            if bytes[boundary..<end].allSatisfy({ $0 == 0 }) {
                self = .torn
                return
            }
            boundary += Self.sectorBytes
        }
        self = .unverifiable(sequence: JournalRecord.bigEndian(UInt64.self, bytes[...], at: offset + 8))
    }

    /// Where the record starting at `offset` ends, as far as its header and the file say.
    static func recordEnd(_ bytes: [UInt8], at offset: Int) -> Int {
        guard bytes.count - offset >= JournalRecord.headerBytes else { return bytes.count }
        let length = Int(JournalRecord.bigEndian(UInt32.self, bytes[...], at: offset))
        return min(bytes.count, offset + JournalRecord.headerBytes + min(length, JournalRecord.maxPayloadBytes))
    }
}
