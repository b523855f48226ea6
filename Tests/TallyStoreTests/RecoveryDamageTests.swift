import Foundation
import TallyLedger
import Testing

@testable import TallyStore

/// Damage that is not a torn tail (a bad record with valid ones after it, a missing segment)
/// stops recovery with an error naming the file, the offset and `--repair`; with `repair` the
/// journal is cut at the first damage and everything before it is kept.
@Suite struct RecoveryDamageTests {
    static let config = LedgerConfig(idempotencyTTL: JournalCommandMix.ttl)
    static let seed: UInt64 = 0xDA3A_6E00_0000_0001

    /// Segments 1..10, 11..20, 21..30, closed.
    func fixture(_ label: String) throws -> TallydSimulation {
        try TallydSimulation.journalOnly(label, segments: [1, 11, 21], last: 30, seed: Self.seed, config: Self.config)
    }

    func span(of sequence: UInt64, in path: String) throws -> JournalTestKit.RecordSpan {
        let spans = JournalTestKit.records(inSegment: try JournalTestKit.read(path))
        return try #require(spans.first { $0.record.sequence == sequence }, "record \(sequence) in \(path)")
    }

    func flip(_ path: String, at offset: Int, mask: UInt8 = 0x01) throws {
        var bytes = try JournalTestKit.read(path)
        bytes[offset] ^= mask
        try JournalTestKit.write(bytes, to: path)
    }

    /// Recovery refuses; the message names the segment, the offset and --repair; no file changes.
    func expectRefusal(_ sim: TallydSimulation, path: String, offset: Int, _ context: Comment) throws -> String? {
        let before = try JournalTestKit.saveJournal(sim.directory)
        let error = #expect(throws: StoreError.self, context) {
            try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        }
        guard let error else { return nil }
        #expect(error.description.contains("journal segment \(path) at offset \(offset):"), "\(error); \(context)")
        #expect(error.description.contains("`tallyd --repair`"), "\(error); \(context)")
        #expect(try JournalTestKit.saveJournal(sim.directory) == before, "a refused recovery changed the journal; \(context)")
        return error.description
    }

    /// Repair keeps exactly records 1...`keep` and reports the loss.
    func expectRepair(
        _ sim: TallydSimulation, keep: UInt64, segments: [UInt64], cutPath: String, cutAt: Int, _ context: Comment
    ) throws {
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config, repair: true)
        let repaired = try #require(recovered.report.repaired, context)
        #expect(repaired.contains("journal segment \(cutPath) at offset \(cutAt)"), "\(repaired); \(context)")
        #expect(recovered.report.recordsReplayed == Int(keep) && recovered.nextSequence == keep + 1, context)
        #expect(recovered.report.lastSequence == keep, context)
        #expect(recovered.segments == segments, context)
        #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == segments, context)
        #expect(try JournalTestKit.size(cutPath) == cutAt, context)
        let expected = try #require(sim.states[keep])
        #expect(try JournalTestKit.checksum(recovered.ledger) == JournalTestKit.checksum(expected), context)
        let same = recovered.ledger == expected
        #expect(same, context)
        // The repaired journal now reads back clean, without repair.
        let again = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(again.report.repaired == nil && again.nextSequence == keep + 1 && again.ledger == recovered.ledger, context)
    }

    /// Every byte of a record in the middle of the last segment, damaged in turn.
    @Test func damagedRecordInTheLastSegment() throws {
        let sim = try fixture("damage-last")
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        let saved = try JournalTestKit.saveJournal(sim.directory)
        let record = try span(of: 25, in: path)
        for position in 0..<record.size {
            try JournalTestKit.restoreJournal(sim.directory, saved)
            try flip(path, at: record.offset + position)
            let context: Comment = "byte \(position) of record 25 (at offset \(record.offset)) flipped, seed \(Self.seed)"
            let message = try expectRefusal(sim, path: path, offset: record.offset, context)
            #expect(message?.contains("and valid records follow it") == true, context)
        }
        for position in [0, 3, 4, 8, 15, 16, record.size - 1] {
            try JournalTestKit.restoreJournal(sim.directory, saved)
            try flip(path, at: record.offset + position, mask: 0xFF)
            try expectRepair(
                sim, keep: 24, segments: [1, 11, 21], cutPath: path, cutAt: record.offset,
                "repair after byte \(position) of record 25 flipped, seed \(Self.seed)")
        }
    }

    @Test func damagedRecordInAnEarlierSegment() throws {
        let sim = try fixture("damage-earlier")
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 11)
        let saved = try JournalTestKit.saveJournal(sim.directory)
        let record = try span(of: 15, in: path)
        for position in [0, 5, 9, 12, record.size / 2, record.size - 1] {
            try JournalTestKit.restoreJournal(sim.directory, saved)
            try flip(path, at: record.offset + position)
            _ = try expectRefusal(sim, path: path, offset: record.offset, "byte \(position) of record 15 flipped")
        }
        try expectRepair(sim, keep: 14, segments: [1, 11], cutPath: path, cutAt: record.offset, "repair of record 15, seed \(Self.seed)")
        #expect(!JournalTestKit.exists(JournalTestKit.segmentPath(sim.directory, 21)))
    }

    /// The last record of a segment is followed by the next segment's: damage, not a torn tail.
    @Test func damagedLastRecordOfAnEarlierSegment() throws {
        let sim = try fixture("damage-segment-end")
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 11)
        let record = try span(of: 20, in: path)
        #expect(record.end == (try JournalTestKit.size(path)))
        try flip(path, at: record.offset + record.size - 1)
        _ = try expectRefusal(sim, path: path, offset: record.offset, "last byte of record 20 flipped")
        try expectRepair(sim, keep: 19, segments: [1, 11], cutPath: path, cutAt: record.offset, "repair of record 20")
    }

    /// An earlier segment cut short (not the journal's end) is damage too.
    @Test func earlierSegmentCutShort() throws {
        let sim = try fixture("damage-short-segment")
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 11)
        let record = try span(of: 20, in: path)
        try JournalTestKit.truncate(path, to: record.offset + 10)
        let message = try expectRefusal(sim, path: path, offset: record.offset, "record 20 cut short")
        #expect(message?.contains("record cut short") == true)
        try expectRepair(sim, keep: 19, segments: [1, 11], cutPath: path, cutAt: record.offset, "repair of short segment 11")
    }

    /// Whole, valid records in the wrong order: the sequence check catches what checksums cannot.
    @Test func recordsOutOfOrder() throws {
        let sim = try fixture("damage-order")
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        let bytes = try JournalTestKit.read(path)
        let a = try span(of: 24, in: path)
        let b = try span(of: 25, in: path)
        let swapped = Array(bytes[0..<a.offset]) + Array(bytes[b.offset..<b.end]) + Array(bytes[a.offset..<a.end]) + Array(bytes[b.end...])
        try JournalTestKit.write(swapped, to: path)
        let message = try expectRefusal(sim, path: path, offset: a.offset, "records 24 and 25 swapped")
        #expect(message?.contains("record 25 where record 24 belongs") == true, "\(message ?? "")")
        try expectRepair(sim, keep: 23, segments: [1, 11, 21], cutPath: path, cutAt: a.offset, "repair of swapped records")
    }

    /// A first segment with a bad header: nothing before it to keep.
    @Test func badHeaderOfTheFirstSegment() throws {
        let sim = try fixture("damage-header")
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 1)
        try flip(path, at: 2)
        let message = try expectRefusal(sim, path: path, offset: 0, "bad magic")
        #expect(message?.contains("not a tally journal segment (bad header)") == true, "\(message ?? "")")
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config, repair: true)
        #expect(recovered.report.repaired?.contains("journal segment \(path) at offset 0") == true)
        #expect(recovered.nextSequence == 1 && recovered.segments == [] && recovered.ledger == Ledger(config: Self.config))
        #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == [])
    }

    // MARK: Missing segments

    /// Segments 1, 11, 21, 31 (records 1...40).
    func fourSegments(_ label: String) throws -> TallydSimulation {
        try TallydSimulation.journalOnly(label, segments: [1, 11, 21, 31], last: 40, seed: Self.seed, config: Self.config)
    }

    @Test func missingMiddleSegment() throws {
        let sim = try fourSegments("missing-middle")
        defer { JournalTestKit.remove(sim.directory) }
        JournalTestKit.remove(JournalTestKit.segmentPath(sim.directory, 21))
        let next = JournalTestKit.segmentPath(sim.directory, 31)
        let error = try #require(throws: StoreError.self) {
            try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        }
        #expect(
            error.description.contains(
                "journal segment \(next) starts at record 31 but the previous segment ended before record 21: records 21..30 are missing"),
            "\(error)")
        #expect(error.description.contains("`tallyd --repair`"), "\(error)")
        #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == [1, 11, 31])

        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config, repair: true)
        #expect(recovered.report.repaired?.contains("records 21..30 are missing") == true, "\(recovered.report)")
        #expect(recovered.report.recordsReplayed == 20 && recovered.nextSequence == 21)
        #expect(recovered.segments == [1, 11])
        #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == [1, 11])
        let same = recovered.ledger == sim.states[20]!
        #expect(same)
    }

    @Test func missingFirstSegmentWithoutSnapshot() throws {
        let sim = try fourSegments("missing-first")
        defer { JournalTestKit.remove(sim.directory) }
        JournalTestKit.remove(JournalTestKit.segmentPath(sim.directory, 1))
        let error = try #require(throws: StoreError.self) {
            try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        }
        #expect(
            error.description.contains("the journal starts at record 11 but the snapshot ends at record 0: records 1..10 are missing"),
            "\(error)")
        #expect(error.description.contains("`tallyd --repair`"), "\(error)")
        // Nothing comes before the gap: repair keeps nothing.
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config, repair: true)
        #expect(recovered.report.repaired?.contains("records 1..10 are missing") == true)
        #expect(recovered.nextSequence == 1 && recovered.segments == [] && recovered.ledger == Ledger(config: Self.config))
    }

    /// A gap that a snapshot covers is no loss; one that reaches past it is.
    @Test func gapsAndSnapshots() throws {
        let sim = try fourSegments("missing-covered")
        defer { JournalTestKit.remove(sim.directory) }
        let saved = try JournalTestKit.saveJournal(sim.directory)
        try SnapshotFile.write(sim.states[25]!, sequence: 25, directoryID: .test, to: JournalTestKit.snapshotPath(sim.directory, 25))

        // Records 11..20 missing, the snapshot holds them.
        JournalTestKit.remove(JournalTestKit.segmentPath(sim.directory, 11))
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.report.snapshotSequence == 25 && recovered.report.recordsReplayed == 15)
        #expect(recovered.nextSequence == 41 && recovered.segments == [1, 21, 31] && recovered.report.repaired == nil)
        let same = recovered.ledger == sim.states[40]!
        #expect(same)

        // Records 21..30 missing: 26..30 are not in the snapshot.
        try JournalTestKit.restoreJournal(sim.directory, saved)
        JournalTestKit.remove(JournalTestKit.segmentPath(sim.directory, 21))
        let error = try #require(throws: StoreError.self) {
            try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        }
        #expect(error.description.contains("records 26..30 are missing"), "\(error)")
        let repaired = try Recovery.run(dataDirectory: sim.directory, config: Self.config, repair: true)
        #expect(repaired.report.snapshotSequence == 25 && repaired.nextSequence == 26 && repaired.segments == [1, 11])
        #expect(repaired.ledger == sim.states[25]!)
    }
}

/// The journal between the two kept snapshots stays on disk (it backs the older snapshot),
/// but the newest snapshot already holds every record in it.
@Suite struct RecoveryCoveredDamageTests {
    static let config = LedgerConfig(idempotencyTTL: JournalCommandMix.ttl)
    static let seed: UInt64 = 0xC0BE_0D00_0000_0001

    /// Snapshots at 100 and 200; segments 101...200 and 201...260; closed. Record 150 damaged.
    func fixture(_ label: String) throws -> (TallydSimulation, damagedSegment: String, offset: Int) {
        let sim = try TallydSimulation(directory: try JournalTestKit.makeDirectory(label), config: Self.config)
        var mix = JournalCommandMix(seed: Self.seed)
        sim.advance(to: 100, &mix)
        try sim.snapshot()
        sim.advance(to: 200, &mix)
        try sim.snapshot()
        sim.advance(to: 260, &mix)
        try sim.close()
        guard try JournalTestKit.segmentsOnDisk(sim.directory) == [101, 201], sim.snapshots == [100, 200] else {
            throw JournalTestFailure("unexpected fixture: \(try JournalTestKit.allFiles(sim.directory))")
        }
        let path = JournalTestKit.segmentPath(sim.directory, 101)
        var bytes = try JournalTestKit.read(path)
        let record = try #require(JournalTestKit.records(inSegment: bytes).first { $0.record.sequence == 150 })
        bytes[record.offset + record.size - 2] ^= 0x04
        try JournalTestKit.write(bytes, to: path)
        return (sim, path, record.offset)
    }

    /// Record 150 is not needed: the newest snapshot (200) holds it, and it reads back whole.
    @Test func damageTheNewestSnapshotCoversDoesNotStopRecovery() throws {
        let (sim, path, offset) = try fixture("covered-damage")
        defer { JournalTestKit.remove(sim.directory) }
        let before = try JournalTestKit.saveJournal(sim.directory)
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.report.snapshotSequence == 200 && recovered.report.recordsReplayed == 60)
        #expect(recovered.nextSequence == 261 && recovered.segments == [101, 201])
        #expect(recovered.report.repaired == nil && recovered.report.tornBytesCut == 0)
        let same = recovered.ledger == sim.ledger
        #expect(same, "seed \(Self.seed), damage at \(path) offset \(offset)")
        #expect(try JournalTestKit.saveJournal(sim.directory) == before, "recovery changed the journal")
    }

    /// And `--repair` must not throw away the intact records after the snapshot because of it.
    @Test func repairKeepsTheIntactRecordsAfterTheSnapshot() throws {
        let (sim, path, offset) = try fixture("covered-repair")
        defer { JournalTestKit.remove(sim.directory) }
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config, repair: true)
        #expect(recovered.report.snapshotSequence == 200)
        let onDisk = try JournalTestKit.segmentsOnDisk(sim.directory)
        #expect(recovered.nextSequence == 261, "\(recovered.report)")
        #expect(recovered.report.recordsReplayed == 60 && recovered.report.repaired == nil, "\(recovered.report)")
        #expect(onDisk == [101, 201], "segments left: \(onDisk)")
        let same = recovered.ledger == sim.ledger
        #expect(same, "seed \(Self.seed), damage at \(path) offset \(offset)")
    }
}

/// Records before and after a snapshot in one segment (the final snapshot of a clean stop does
/// not rotate): damage is skipped exactly when every record it can have destroyed is <= the
/// snapshot.
@Suite struct RecoveryCoveredBoundaryTests {
    static let config = LedgerConfig(idempotencyTTL: JournalCommandMix.ttl)
    static let seed: UInt64 = 0xB0DA_0000_0000_0001

    /// One segment, records 1...260; a snapshot at 200 written beside it.
    func fixture(_ label: String) throws -> TallydSimulation {
        let sim = try TallydSimulation.journalOnly(label, segments: [1], last: 260, seed: Self.seed, config: Self.config)
        try SnapshotFile.write(sim.states[200]!, sequence: 200, directoryID: .test, to: JournalTestKit.snapshotPath(sim.directory, 200))
        return sim
    }

    func damage(_ sim: TallydSimulation, record sequence: UInt64) throws -> JournalTestKit.RecordSpan {
        let path = JournalTestKit.segmentPath(sim.directory, 1)
        var bytes = try JournalTestKit.read(path)
        let span = try #require(JournalTestKit.records(inSegment: bytes).first { $0.record.sequence == sequence })
        bytes[span.offset + 9] ^= 0x40  // a sequence byte
        try JournalTestKit.write(bytes, to: path)
        return span
    }

    @Test(arguments: [150, 199, 200] as [UInt64])
    func damageTheSnapshotHoldsIsSkipped(sequence: UInt64) throws {
        let sim = try fixture("covered-boundary-\(sequence)")
        defer { JournalTestKit.remove(sim.directory) }
        let intact = JournalTestKit.records(inSegment: try JournalTestKit.read(JournalTestKit.segmentPath(sim.directory, 1)))
        let record201 = try #require(intact.first { $0.record.sequence == 201 })
        let span = try damage(sim, record: sequence)
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.report.snapshotSequence == 200 && recovered.report.recordsReplayed == 60)
        #expect(recovered.nextSequence == 261 && recovered.report.repaired == nil && recovered.report.tornBytesCut == 0)
        let same = recovered.ledger == sim.ledger
        #expect(same, "record \(sequence) damaged, seed \(Self.seed)")
        // What recovery skipped: the damaged record alone; it resumed at the record after it.
        #expect(recovered.report.skippedCoveredBytes == span.size, "only record \(sequence) is damaged")
        #expect(span.offset + span.size <= record201.offset)
    }

    @Test func damageJustPastTheSnapshotStopsRecovery() throws {
        let sim = try fixture("covered-boundary-201")
        defer { JournalTestKit.remove(sim.directory) }
        let span = try damage(sim, record: 201)
        let path = JournalTestKit.segmentPath(sim.directory, 1)
        let error = try #require(throws: StoreError.self) {
            try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        }
        #expect(error.description.contains("journal segment \(path) at offset \(span.offset): checksum mismatch, and valid records follow it"), "\(error)")
        let repaired = try Recovery.run(dataDirectory: sim.directory, config: Self.config, repair: true)
        #expect(repaired.nextSequence == 201 && repaired.report.recordsReplayed == 0)
        #expect(try JournalTestKit.size(path) == span.offset)
        #expect(repaired.ledger == sim.states[200]!)
    }
}
