import Foundation
import TallyLedger
import Testing

@testable import TallyStore

/// A write cut short by a crash at the very end of the journal is cut off and reported; nothing
/// else is lost.
@Suite struct RecoveryTornTailTests {
    static let config = LedgerConfig(idempotencyTTL: JournalCommandMix.ttl)
    static let seed: UInt64 = 0x7042_7A11_0000_0001

    /// Segments 1..20 and 21..40, closed.
    func fixture(_ label: String) throws -> TallydSimulation {
        try TallydSimulation.journalOnly(label, segments: [1, 21], last: 40, seed: Self.seed, config: Self.config)
    }

    @Test func everyCutInsideTheLastRecordIsATornTail() throws {
        let sim = try fixture("torn-every-offset")
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        let full = try JournalTestKit.read(path)
        let spans = JournalTestKit.records(inSegment: full)
        try #require(spans.count == 20 && spans.last?.end == full.count && spans.last?.record.sequence == 40)
        let previousEnd = spans[18].end
        let expected = try #require(sim.states[39])
        let expectedChecksum = try JournalTestKit.checksum(expected)

        for length in previousEnd..<full.count {
            let context: Comment = "cut to \(length) bytes (record 40 spans \(previousEnd)..<\(full.count)), seed \(Self.seed)"
            try JournalTestKit.write(Array(full[0..<length]), to: path)
            let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
            let report = recovered.report
            // A cut that left only the record's leading zero bytes (the high bytes of its length)
            // cannot be told from the zeros the journal writes ahead: the records end there, and
            // there is nothing to report as torn.
            let torn = full[previousEnd..<length].contains { $0 != 0 } ? length - previousEnd : 0
            #expect(report.recordsReplayed == 39, context)
            #expect(report.lastSequence == 39 && recovered.nextSequence == 40, context)
            #expect(report.tornBytesCut == torn, context)
            #expect(report.tornSegment == (torn > 0 ? path : nil), context)
            #expect(report.repaired == nil && report.skippedSnapshots == [], context)
            #expect(recovered.segments == [1, 21], context)
            #expect(try JournalTestKit.size(path) == previousEnd, context)
            #expect(try JournalTestKit.read(path) == Array(full[0..<previousEnd]), context)
            #expect(try JournalTestKit.checksum(recovered.ledger) == expectedChecksum, context)
            let same = recovered.ledger == expected
            #expect(same, context)
            if torn > 0 {
                #expect(report.description.contains("cut a torn tail of \(torn) byte(s) off \(path)"), context)
                #expect(report.tornTail == .torn, context)
            }
        }
    }

    /// A last record with all its bytes and a bad checksum may be a complete, answered record
    /// the disk damaged: recovery says it cannot tell, names the record, and keeps its bytes.
    @Test func aCompleteLastRecordThatFailsItsChecksumIsNotCalledTorn() throws {
        let sim = try fixture("damaged-last")
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        var bytes = try JournalTestKit.read(path)
        let spans = JournalTestKit.records(inSegment: bytes)
        let last = try #require(spans.last)
        try #require(last.record.sequence == 40)
        bytes[last.offset + JournalRecord.headerBytes + 3] ^= 0x01  // one payload byte, full length kept
        try JournalTestKit.write(bytes, to: path)

        let verified = try Recovery.run(dataDirectory: sim.directory, config: Self.config, readOnly: true)
        #expect(verified.report.tornTail == .unverifiable(sequence: 40), "seed \(Self.seed)")
        let text = verified.report.description
        #expect(text.contains("record 40 has all its bytes but they fail their checksum"), "\(text)")
        #expect(text.contains("may have been answered OK") && !text.contains("cut a torn tail"), "\(text)")
        #expect(try JournalTestKit.read(path) == bytes, "verify changes nothing")

        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.report.lastSequence == 39 && recovered.ledger == sim.states[39])
        let kept = path + ".cut-at-\(last.offset)"
        #expect(recovered.report.tornTailKeptAt == kept)
        #expect(try JournalTestKit.read(kept) == Array(bytes[last.offset..<last.end]), "the record's bytes, kept")
        #expect(try JournalTestKit.size(path) == last.offset)
        #expect(recovered.report.description.contains("They are kept in \(kept)"))
        #expect(try Recovery.run(dataDirectory: sim.directory, config: Self.config).report.tornBytesCut == 0, "the kept file is no segment")
    }

    /// A record whose sectors past a 512-byte boundary are still the zeros written ahead was cut
    /// short by the crash: torn, whatever its length field says.
    @Test func unwrittenSectorsInsideTheLastRecordAreATornWrite() throws {
        // Twice the usual records in the last segment, so that some record's payload crosses a
        // sector boundary whatever the seed's records weigh.
        let sim = try TallydSimulation.journalOnly("torn-sector", segments: [1, 21], last: 80, seed: Self.seed, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        let full = try JournalTestKit.read(path)
        let spans = JournalTestKit.records(inSegment: full)
        // A record whose payload crosses a sector boundary (its header whole before it: zeros
        // in place of a header read as the journal's clean end) with bytes past the boundary
        // that are not zero already, made the last one.
        let crossing = try #require(spans.first { span in
            let boundary = (span.offset / 512 + 1) * 512
            return span.offset + JournalRecord.headerBytes <= boundary && boundary < span.end
                && full[boundary..<span.end].contains { $0 != 0 }
        })
        let boundary = (crossing.offset / 512 + 1) * 512
        var bytes = Array(full[0..<crossing.end])
        for index in boundary..<crossing.end { bytes[index] = 0 }
        try JournalTestKit.write(bytes, to: path)
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.report.tornTail == .torn && recovered.report.tornTailKeptAt == nil)
        #expect(recovered.report.lastSequence == crossing.record.sequence - 1)
        #expect(recovered.report.description.contains("nobody was answered for it"))
    }

    /// The only record of the journal torn: recovery leaves an empty ledger and the bare header.
    @Test func aTornFirstRecordLeavesAnEmptyJournal() throws {
        let sim = try TallydSimulation.journalOnly("torn-first", segments: [1], last: 1, seed: Self.seed, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 1)
        let full = try JournalTestKit.read(path)
        for length in (JournalSegment.headerBytes + 1)..<full.count {
            try JournalTestKit.write(Array(full[0..<length]), to: path)
            let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
            #expect(recovered.report.recordsReplayed == 0 && recovered.nextSequence == 1, "cut to \(length)")
            // Only the length's leading zero bytes: the same as the zeros written ahead, nothing torn.
            let torn = full[JournalSegment.headerBytes..<length].contains { $0 != 0 } ? length - JournalSegment.headerBytes : 0
            #expect(recovered.report.tornBytesCut == torn, "cut to \(length)")
            #expect(recovered.ledger == Ledger(config: Self.config), "cut to \(length)")
            #expect(recovered.segments == [1], "cut to \(length)")
            #expect(try JournalTestKit.size(path) == JournalSegment.headerBytes, "cut to \(length)")
        }
    }

    /// Garbage after the last good record (a crash while the file grew: whatever the disk held)
    /// is a torn tail too. Zeros after it are where the records end (the journal writes zeros
    /// ahead of its records, PosixSegmentFile): cut off too, without a torn-tail report.
    @Test func garbageAfterTheLastRecordIsCutOff() throws {
        let sim = try fixture("torn-garbage")
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        let full = try JournalTestKit.read(path)
        let expected = try #require(sim.states[40])
        var rng = JournalTestRNG(seed: Self.seed)
        var tails: [(String, [UInt8])] = [1, 7, 15, 16, 17, 100, 4_096].map { ("\($0) zero bytes", [UInt8](repeating: 0, count: $0)) }
        tails += [1, 15, 16, 33, 500, 3_000].map { ("\($0) random bytes", rng.bytes($0)) }
        // A record header that announces more than is there, then nothing.
        tails.append(("a lone record header", [0, 0, 0, 40] + [0xDE, 0xAD, 0xBE, 0xEF] + [0, 0, 0, 0, 0, 0, 0, 41]))

        for (name, tail) in tails {
            let context: Comment = "\(name) after record 40, seed \(Self.seed)"
            try JournalTestKit.write(full + tail, to: path)
            let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
            #expect(recovered.report.recordsReplayed == 40 && recovered.nextSequence == 41, context)
            let zeros = tail.allSatisfy { $0 == 0 }
            #expect(recovered.report.tornBytesCut == (zeros ? 0 : tail.count), context)
            #expect(recovered.report.tornSegment == (zeros ? nil : path), context)
            #expect(recovered.report.repaired == nil, context)
            #expect(try JournalTestKit.read(path) == full, context)
            let same = recovered.ledger == expected
            #expect(same, context)
        }
    }

    /// `verify` (readOnly) reports the torn tail but changes no file.
    @Test func readOnlyReportsButDoesNotCut() throws {
        let sim = try fixture("torn-readonly")
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        let full = try JournalTestKit.read(path)
        let spans = JournalTestKit.records(inSegment: full)
        let previousEnd = spans[18].end
        let torn = Array(full[0..<(previousEnd + 9)]) + [0xFF, 0x00, 0xFF]
        try JournalTestKit.write(torn, to: path)

        for _ in 0..<2 {
            let looked = try Recovery.run(dataDirectory: sim.directory, config: Self.config, readOnly: true)
            #expect(looked.report.tornBytesCut == 12 && looked.report.tornSegment == path)
            #expect(looked.report.recordsReplayed == 39 && looked.nextSequence == 40)
            #expect(looked.ledger == sim.states[39]!)
            #expect(try JournalTestKit.read(path) == torn, "readOnly changed the segment")
        }
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.report.tornBytesCut == 12)
        #expect(try JournalTestKit.size(path) == previousEnd)
    }

    // MARK: A last segment that is only a partial header

    /// Created, then the crash came before its header was durable: removed, nothing lost.
    @Test func aPartialHeaderLastSegmentIsRemoved() throws {
        let sim = try TallydSimulation.journalOnly("partial-header", segments: [1, 11], last: 20, seed: Self.seed, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        let expected = try #require(sim.states[20])

        for length in 0..<JournalSegment.headerBytes {
            let context: Comment = "header cut to \(length) bytes"
            let partial = Array(JournalSegment.header(.test).prefix(length))
            try JournalTestKit.write(partial, to: path)

            let looked = try Recovery.run(dataDirectory: sim.directory, config: Self.config, readOnly: true)
            #expect(looked.segments == [1, 11] && looked.nextSequence == 21, context)
            #expect(try JournalTestKit.read(path) == partial, "readOnly removed or changed it; \(context)")

            let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
            #expect(recovered.report.recordsReplayed == 20 && recovered.nextSequence == 21, context)
            #expect(recovered.report.tornBytesCut == length, context)
            #expect(recovered.report.tornSegment == path, context)
            #expect(recovered.report.repaired == nil, context)
            #expect(recovered.segments == [1, 11], context)
            #expect(!JournalTestKit.exists(path), context)
            let same = recovered.ledger == expected
            #expect(same, context)
        }

        // And tallyd starts there again: the new segment takes the removed one's name.
        try JournalTestKit.write(Array(JournalSegment.header(.test).prefix(5)), to: path)
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        let restarted = try TallydSimulation(resuming: recovered, directory: sim.directory, config: Self.config, clock: sim.clock)
        restarted.credits(4)
        try restarted.close()
        #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == [1, 11, 21])
        let again = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(again.report.recordsReplayed == 24 && again.nextSequence == 25 && again.report.tornBytesCut == 0)
        #expect(again.ledger == restarted.ledger)
    }

    /// A whole header and nothing after it is an empty segment, not damage: kept as it is.
    @Test func aHeaderOnlyLastSegmentIsKept() throws {
        let sim = try TallydSimulation.journalOnly("header-only", segments: [1, 11], last: 20, seed: Self.seed, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        try JournalTestKit.write(JournalSegment.header(.test), to: path)
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.segments == [1, 11, 21] && recovered.nextSequence == 21)
        #expect(recovered.report.tornBytesCut == 0 && recovered.report.recordsReplayed == 20)
        #expect(try JournalTestKit.size(path) == JournalSegment.headerBytes)
    }

    /// A short last file that is not the start of a journal header is not ours to delete.
    @Test func aShortLastFileThatIsNotAHeaderIsAnError() throws {
        let sim = try TallydSimulation.journalOnly("not-a-header", segments: [1, 11], last: 20, seed: Self.seed, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        try JournalTestKit.write(Array("TALLYXX".utf8), to: path)
        let error = try #require(throws: StoreError.self) {
            try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        }
        #expect(error.description.contains("journal segment \(path) at offset 0: shorter than its header"), "\(error)")
        #expect(error.description.contains("--repair"), "\(error)")
        #expect(try JournalTestKit.read(path) == Array("TALLYXX".utf8))
    }
}
