import Foundation
import TallyLedger
import TallyCodec
import TallyWire
import Testing

@testable import TallyStore

/// The journal record format: length u32 BE, CRC-32C of sequence + payload, sequence u64 BE,
/// payload (a StampedCommand).
@Suite struct JournalRecordCodecTests {
    static let samples: [JournalRecord] = [
        JournalRecord(
            sequence: 1,
            command: .credit(Credit(userID: "alice", amount: 500, kind: .purchase, reference: "order-1", memo: "mémo ✓", idempotencyKey: "k1")),
            timestamp: 1_700_000_000_000_001),
        JournalRecord(sequence: 0x0102_0304_0506_0708, command: .spend(Spend(userID: "cafe\u{301}", amount: 1)), timestamp: 1),
        JournalRecord(
            sequence: UInt64.max,
            command: .spend(Spend(
                userID: String(repeating: "u", count: 128), amount: Int64.max, reference: String(repeating: "r", count: 256),
                memo: String(repeating: "m", count: 1_024), idempotencyKey: String(repeating: "k", count: 128))),
            timestamp: Int64.max),
        JournalRecord(sequence: 42, command: .credit(Credit(userID: "caf\u{E9}", amount: 7, kind: .adjustment)), timestamp: 0),
    ]

    func encoded(_ record: JournalRecord) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try record.encode(into: &bytes)
        return bytes
    }

    func bigEndian(_ value: some FixedWidthInteger) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian, Array.init)
    }

    /// `peek` (recovery's step over records a snapshot holds) agrees with `read` on what is a
    /// whole, intact record, without decoding it.
    @Test(arguments: samples.indices)
    func peekChecksWhatReadChecksButTheDecode(sample: Int) throws {
        let record = Self.samples[sample]
        let bytes = try encoded(record) + [9, 9, 9]  // the next record's first bytes
        let peeked = try #require(JournalRecord.peek(bytes[...]))
        #expect(peeked.sequence == record.sequence && peeked.bytes == bytes.count - 3)
        for cut in [0, 5, JournalRecord.headerBytes, bytes.count - 4] {
            #expect(JournalRecord.peek(bytes[..<cut]) == nil, "cut at \(cut)")
        }
        for flipped in [0, 4, 8, JournalRecord.headerBytes, bytes.count - 4] {
            var damaged = bytes
            damaged[flipped] ^= 0x40
            #expect(JournalRecord.peek(damaged[...]).map { $0.bytes == peeked.bytes && $0.sequence == peeked.sequence } != true,
                    "a flipped byte at \(flipped)")
        }
    }

    @Test(arguments: samples.indices)
    func encodesTheDocumentedLayout(sample: Int) throws {
        let record = Self.samples[sample]
        let bytes = try encoded(record)
        let payload: [UInt8] = try Tally_Store_V1_StampedCommand(record.command, at: record.timestamp).serializedBytes()
        #expect(bytes.count == 16 + payload.count)
        #expect(Array(bytes[0..<4]) == bigEndian(UInt32(payload.count)))
        // CRC-32C over the 8 sequence bytes then the payload, computed here in one go.
        #expect(Array(bytes[4..<8]) == bigEndian(CRC32C.checksum(bigEndian(record.sequence) + payload)))
        #expect(Array(bytes[8..<16]) == bigEndian(record.sequence))
        #expect(Array(bytes[16...]) == payload)
        let stamped = try Tally_Store_V1_StampedCommand(serializedBytes: Array(bytes[16...]))
        #expect(stamped.timestampUs == record.timestamp)
        #expect(stamped.ledgerCommand == record.command)
    }

    @Test(arguments: samples.indices)
    func roundTrips(sample: Int) throws {
        let record = Self.samples[sample]
        let bytes = try encoded(record)
        #expect(JournalRecord.read(bytes[...]) == .record(record, bytes: bytes.count))
        // From the middle of a larger buffer, followed by more bytes: reads exactly one record.
        let buffer = [0xAA, 0xBB, 0xCC] + bytes + bytes + [0x00]
        #expect(JournalRecord.read(buffer[3...]) == .record(record, bytes: bytes.count))
        #expect(JournalRecord.read(buffer[(3 + bytes.count)...]) == .record(record, bytes: bytes.count))
        // Strings keep their exact bytes (precomposed and decomposed "café" stay apart).
        if case .record(let back, _) = JournalRecord.read(bytes[...]) {
            switch (back.command, record.command) {
            case (.credit(let a), .credit(let b)): #expect(Array(a.userID.utf8) == Array(b.userID.utf8))
            case (.spend(let a), .spend(let b)): #expect(Array(a.userID.utf8) == Array(b.userID.utf8))
            default: Issue.record("command kind changed: \(back.command)")
            }
        }
    }

    @Test func aSequenceOfRecordsReadsBackInOrder() throws {
        var bytes: [UInt8] = []
        for record in Self.samples { try record.encode(into: &bytes) }
        var offset = 0
        var back: [JournalRecord] = []
        while offset < bytes.count, case .record(let record, let size) = JournalRecord.read(bytes[offset...]) {
            back.append(record)
            offset += size
        }
        #expect(back == Self.samples)
        #expect(offset == bytes.count)
    }

    @Test(arguments: samples.indices)
    func everyProperPrefixIsTruncated(sample: Int) throws {
        let record = Self.samples[sample]
        let bytes = try encoded(record)
        let padded = [1, 2, 3] + bytes
        for length in 0..<bytes.count {
            #expect(JournalRecord.read(bytes[0..<length]) == .truncated, "prefix of \(length) of \(bytes.count) bytes")
            #expect(JournalRecord.read(padded[3..<(3 + length)]) == .truncated, "offset slice, prefix of \(length)")
        }
    }

    /// Any single damaged byte of the checksum, the sequence or the payload is caught.
    @Test(arguments: samples.indices)
    func everyFlippedByteAfterTheLengthIsDamage(sample: Int) throws {
        let record = Self.samples[sample]
        let bytes = try encoded(record)
        for position in 4..<bytes.count {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = bytes
                damaged[position] ^= mask
                let read = JournalRecord.read(damaged[...])
                guard case .damaged(let why) = read else {
                    Issue.record("byte \(position) ^ \(mask) of \(bytes.count) read as \(read)")
                    continue
                }
                #expect(why == "checksum mismatch", "byte \(position) ^ \(mask)")
            }
        }
    }

    /// A damaged length is never taken for a record: either the record now looks cut short
    /// (the length points past the end), or it is damage.
    @Test(arguments: samples.indices)
    func aFlippedLengthByteIsNeverARecord(sample: Int) throws {
        let record = Self.samples[sample]
        let bytes = try encoded(record) + Array(repeating: 0x5A, count: 64)
        for position in 0..<4 {
            for mask: UInt8 in [0x01, 0x02, 0x10, 0x80, 0xFF] {
                var damaged = bytes
                damaged[position] ^= mask
                let read = JournalRecord.read(damaged[...])
                if case .record = read { Issue.record("length byte \(position) ^ \(mask) still read as a record") }
            }
        }
    }

    @Test func lengthsOverTheLimitAreDamageNotAWaitForMoreBytes() throws {
        func header(length: UInt32) -> [UInt8] { bigEndian(length) + [0, 0, 0, 0] + bigEndian(UInt64(1)) }
        let over = header(length: UInt32(JournalRecord.maxPayloadBytes + 1))
        #expect(JournalRecord.read(over[...]) == .damaged("length \(JournalRecord.maxPayloadBytes + 1) is over \(JournalRecord.maxPayloadBytes)"))
        #expect(JournalRecord.read(header(length: UInt32.max)[...]) == .damaged("length \(UInt32.max) is over \(JournalRecord.maxPayloadBytes)"))
        // Exactly at the limit is allowed: with too few bytes it is a cut-short record.
        #expect(JournalRecord.read(header(length: UInt32(JournalRecord.maxPayloadBytes))[...]) == .truncated)
    }

    /// Bytes whose checksum is right but that do not hold a command are damage too.
    @Test func checksummedNonsenseIsDamage() throws {
        func record(sequence: UInt64, payload: [UInt8]) -> [UInt8] {
            bigEndian(UInt32(payload.count)) + bigEndian(JournalRecord.checksum(sequence: sequence, payload: payload[...]))
                + bigEndian(sequence) + payload
        }
        #expect(JournalRecord.read(record(sequence: 9, payload: [])[...]) == .damaged("record holds no command"))
        let nonsense = JournalRecord.read(record(sequence: 9, payload: [0xFF, 0xFF, 0xFF])[...])
        guard case .damaged(let why) = nonsense else {
            Issue.record("read as \(nonsense)")
            return
        }
        #expect(why.hasPrefix("payload does not decode"), "\(why)")
    }

    @Test func allZeroBytesAreNotARecord() {
        #expect(JournalRecord.read([UInt8](repeating: 0, count: 15)[...]) == .truncated)
        #expect(JournalRecord.read([UInt8](repeating: 0, count: 16)[...]) == .damaged("checksum mismatch"))
        #expect(JournalRecord.read([UInt8](repeating: 0, count: 4096)[...]) == .damaged("checksum mismatch"))
    }

    @Test func segmentNamesAndHeader() {
        #expect(JournalSegment.fileName(firstSequence: 1) == "journal-00000000000000000001.log")
        #expect(JournalSegment.fileName(firstSequence: UInt64.max) == "journal-18446744073709551615.log")
        #expect(JournalSegment.firstSequence(ofFileNamed: "journal-00000000000000000701.log") == 701)
        #expect(JournalSegment.firstSequence(ofFileNamed: "journal-701.log") == nil)
        #expect(JournalSegment.firstSequence(ofFileNamed: "journal-00000000000000000701.log.tmp") == nil)
        let header = JournalSegment.header(.test)
        #expect(header == Array("TALLYJNL".utf8) + [0, 0, 0, 2, 0, 0, 0, 0] + DirectoryID.test.bytes)
        #expect(header.count == JournalSegment.headerBytes)
        func parsed(_ bytes: [UInt8]) -> String {
            switch JournalSegment.header(of: bytes) {
            case .success(let found): "\(found.bytes) \(found.directoryID.map(String.init(describing:)) ?? "none")"
            case .failure(let problem): problem.description
            }
        }
        #expect(parsed(header) == "32 \(DirectoryID.test)")
        #expect(parsed(Array(header.prefix(31))) == "shorter than its 32-byte header")
        #expect(parsed(Array(header.prefix(15))) == "shorter than its header")
        // Format 1: 16 bytes, no directory id; still read.
        #expect(parsed(Array("TALLYJNL".utf8) + [0, 0, 0, 1, 0, 0, 0, 0]) == "16 none")
        var future = header
        future[11] = 3
        #expect(parsed(future) == "format 3 is not supported (this build reads 1 and 2)")
    }
}
