import TallyLedger
import Testing

@testable import TallyStore

/// The journal writes zeros ahead of its records (PosixSegmentFile), so that an fdatasync
/// flushes data pages only. A crash leaves those zeros after the last record: recovery reads
/// them as the end of the records, never as damage, in the last segment and in any other.
@Suite struct JournalZerosAheadTests {
    static let config = LedgerConfig(idempotencyTTL: JournalCommandMix.ttl)
    static let seed: UInt64 = 0x2E20_5A4E_AD00_0001

    @Test func aCrashLeavesZerosThatRecoveryReadsAsTheEnd() throws {
        let sim = try TallydSimulation(directory: try JournalTestKit.makeDirectory("zeros-crash"), config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        var mix = JournalCommandMix(seed: Self.seed)
        sim.advance(to: 300, &mix)
        let live = sim.ledger
        try sim.crash()  // dropped unclosed, as kill -9 leaves it

        let path = JournalTestKit.segmentPath(sim.directory, 1)
        let bytes = try JournalTestKit.read(path)
        let end = try #require(JournalTestKit.records(inSegment: bytes).last?.end)
        #expect(bytes.count % PosixSegmentFile.zeroChunk == 0 && bytes.count > end, "the file runs ahead of its records, seed \(Self.seed)")
        #expect(bytes[end...].allSatisfy { $0 == 0 }, "with zeros")

        let looked = try Recovery.run(dataDirectory: sim.directory, config: Self.config, readOnly: true)
        #expect(looked.report.recordsReplayed == 300 && looked.report.tornBytesCut == 0, "seed \(Self.seed)")
        #expect(try JournalTestKit.size(path) == bytes.count, "verify changes no file")

        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.report.recordsReplayed == 300 && recovered.nextSequence == 301, "seed \(Self.seed)")
        #expect(recovered.report.tornBytesCut == 0 && recovered.report.repaired == nil)
        #expect(try JournalTestKit.size(path) == end, "the zeros are cut: the segment ends at its last record")
        let same = recovered.ledger == live
        #expect(same, "seed \(Self.seed)")
    }

    @Test func aClosedSegmentEndsAtItsLastRecord() throws {
        let sim = try TallydSimulation.journalOnly("zeros-closed", segments: [1, 21], last: 40, seed: Self.seed, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        for first: UInt64 in [1, 21] {
            let path = JournalTestKit.segmentPath(sim.directory, first)
            let bytes = try JournalTestKit.read(path)
            #expect(JournalTestKit.records(inSegment: bytes).last?.end == bytes.count, "segment \(first)")
        }
    }

    /// Zeros left after the records of a segment that is no longer the last (a crash came before
    /// the cut at close was on disk): the next segment carries on from the record after them.
    @Test func zerosInAnEarlierSegmentAreNotDamage() throws {
        let sim = try TallydSimulation.journalOnly("zeros-middle", segments: [1, 21], last: 40, seed: Self.seed, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        let first = JournalTestKit.segmentPath(sim.directory, 1)
        let bytes = try JournalTestKit.read(first)
        for zeros in [1, 16, 17, PosixSegmentFile.zeroChunk - bytes.count] {
            try JournalTestKit.write(bytes + [UInt8](repeating: 0, count: zeros), to: first)
            let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
            #expect(recovered.report.recordsReplayed == 40 && recovered.report.tornBytesCut == 0, "\(zeros) zeros, seed \(Self.seed)")
            #expect(recovered.report.repaired == nil && recovered.segments == [1, 21], "\(zeros) zeros")
            let same = recovered.ledger == sim.states[40]!
            #expect(same, "\(zeros) zeros, seed \(Self.seed)")
        }
    }

    /// A record torn inside the zeros (its first bytes written, the rest still zeros) is a torn
    /// tail like any other: cut with everything after it, reported.
    @Test func aRecordTornInsideTheZerosIsATornTail() throws {
        let sim = try TallydSimulation.journalOnly("zeros-torn", segments: [1], last: 20, seed: Self.seed, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 1)
        let full = try JournalTestKit.read(path)
        let spans = JournalTestKit.records(inSegment: full)
        let previousEnd = spans[18].end
        let torn = Array(full[0..<(previousEnd + 9)])
        let padded = torn + [UInt8](repeating: 0, count: PosixSegmentFile.zeroChunk - torn.count)
        try JournalTestKit.write(padded, to: path)
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.report.recordsReplayed == 19 && recovered.nextSequence == 20, "seed \(Self.seed)")
        #expect(recovered.report.tornBytesCut == padded.count - previousEnd && recovered.report.tornSegment == path)
        #expect(try JournalTestKit.size(path) == previousEnd)
        let same = recovered.ledger == sim.states[19]!
        #expect(same, "seed \(Self.seed)")
    }
}

/// The Writer's resume after a journal failure: recovery up to the last durable record cuts the
/// journal right after it, so records that were never durable are never applied later.
@Suite struct RecoveryThroughTests {
    static let config = LedgerConfig(idempotencyTTL: JournalCommandMix.ttl)
    static let seed: UInt64 = 0x7B20_C07A_F7E4_0001

    @Test(arguments: [UInt64(15), 20, 30])
    func recoveryThroughARecordCutsWhatFollowsIt(through: UInt64) throws {
        let sim = try TallydSimulation.journalOnly("through-\(through)", segments: [1, 21], last: 40, seed: Self.seed, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        let context: Comment = "through \(through), seed \(Self.seed)"
        let looked = try Recovery.run(dataDirectory: sim.directory, config: Self.config, readOnly: true, through: through)
        #expect(looked.nextSequence == through + 1 && looked.report.cutAfterThrough == nil, context)
        #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == [1, 21], "readOnly cuts nothing")

        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config, through: through)
        #expect(recovered.nextSequence == through + 1, context)
        let same = recovered.ledger == sim.states[through]!
        #expect(same, context)
        #expect(recovered.report.cutAfterThrough?.contains("records from \(through + 1) on were never made durable") == true, context)
        // What is left on disk ends at record `through`: a full recovery finds nothing after it.
        let again = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(again.nextSequence == through + 1 && again.report.tornBytesCut == 0 && again.report.repaired == nil, context)
        #expect(again.segments == (through < 20 ? [1] : [1, 21]), context)
    }
}
