import Foundation
import TallyLedger
import Testing

@testable import TallyStore

/// After recovery tallyd opens a new FileJournal at `recovered.nextSequence` with
/// `recovered.segments` and goes on; the next recovery must see everything.
@Suite struct JournalRestartTests {
    static let config = LedgerConfig(idempotencyTTL: JournalCommandMix.ttl)

    func expectRecovered(
        _ directory: String, equals live: TallydSimulation, snapshot: UInt64, _ context: Comment
    ) throws -> Recovery.Recovered {
        let recovered = try Recovery.run(dataDirectory: directory, config: Self.config)
        #expect(recovered.nextSequence == live.nextSequence, context)
        #expect(recovered.report.snapshotSequence == snapshot, context)
        #expect(recovered.report.recordsReplayed == Int(live.lastSequence - snapshot), context)
        #expect(recovered.report.tornBytesCut == 0 && recovered.report.repaired == nil, context)
        #expect(try JournalTestKit.checksum(recovered.ledger) == JournalTestKit.checksum(live.ledger), context)
        let same = recovered.ledger == live.ledger
        #expect(same, context)
        #expect(recovered.segments == (try JournalTestKit.segmentsOnDisk(directory)), context)
        return recovered
    }

    @Test func restartTwiceAndSeeEverything() throws {
        let seed: UInt64 = 0x8E57_A870_0000_0001
        let directory = try JournalTestKit.makeDirectory("restart")
        defer { JournalTestKit.remove(directory) }
        var mix = JournalCommandMix(seed: seed)

        // Run 1: 400 records, a snapshot at 250, clean stop.
        let first = try TallydSimulation(directory: directory, config: Self.config)
        first.advance(to: 250, &mix)
        let s1 = try first.snapshot()
        first.advance(to: 400, &mix)
        try first.close()
        let r1 = try expectRecovered(directory, equals: first, snapshot: s1, "after run 1, seed \(seed)")

        // Run 2: goes on from the recovered state; a snapshot; then a crash (no close).
        let second = try TallydSimulation(resuming: r1, directory: directory, config: Self.config, clock: first.clock)
        second.advance(to: 550, &mix)
        let s2 = try second.snapshot()
        second.advance(to: 700, &mix)
        try second.crash()
        let r2 = try expectRecovered(directory, equals: second, snapshot: s2, "after run 2, seed \(seed)")
        #expect(r2.segments == [s1 + 1, 401, s2 + 1], "run 2's own segment starts where run 1 stopped")

        // Run 3: more records, clean stop.
        let third = try TallydSimulation(resuming: r2, directory: directory, config: Self.config, clock: second.clock)
        third.advance(to: 800, &mix)
        try third.close()
        let r3 = try expectRecovered(directory, equals: third, snapshot: s2, "after run 3, seed \(seed)")
        // Every record 1...800 was journaled exactly once, in order, over the three runs.
        let sequences = (first.journaled + second.journaled + third.journaled).map(\.sequence)
        #expect(sequences == Array(1...800))
        #expect(r3.segments == [s1 + 1, 401, s2 + 1, 701])
    }

    /// Segments rotated by size (not only at snapshots) read back as one journal.
    @Test func sizeRotatedSegmentsReadBackWhole() throws {
        let seed: UInt64 = 0x8E57_A870_0000_0002
        let directory = try JournalTestKit.makeDirectory("size-rotation")
        defer { JournalTestKit.remove(directory) }
        var mix = JournalCommandMix(seed: seed)
        let sim = try TallydSimulation(directory: directory, config: Self.config, segmentBytes: 2_048)
        // Rounds of at most 30 records (how many records one group commit takes depends on
        // timing; a segment is rotated after the round that fills it).
        for round in 1...10 {
            sim.advance(to: UInt64(round * 30), &mix)
            try sim.waitDurable()
        }
        try sim.close()
        let segments = try JournalTestKit.segmentsOnDisk(directory)
        #expect(segments.count >= 3, "\(segments)")
        // Every segment holds exactly the records from its name up to the next one's, and only
        // the last is under the size limit.
        for (index, first) in segments.enumerated() {
            let path = JournalTestKit.segmentPath(directory, first)
            let records = JournalTestKit.records(inSegment: try JournalTestKit.read(path))
            let isLast = index + 1 == segments.count
            let end = isLast ? 301 : segments[index + 1]
            #expect(records.map(\.record.sequence) == Array(first..<end), "segment \(first)")
            // (The last may hold only its header: a rotation right after the last round.)
            #expect((records.last?.end ?? JournalSegment.headerBytes) == (try JournalTestKit.size(path)), "segment \(first)")
            if !isLast { #expect(try JournalTestKit.size(path) >= 2_048, "segment \(first)") }
        }
        let recovered = try expectRecovered(directory, equals: sim, snapshot: 0, "size rotation, seed \(seed)")
        #expect(recovered.segments == segments)
    }

    /// Starting and stopping without new records leaves one empty segment, not one per start.
    @Test func idleRestartsDoNotPileUpSegments() throws {
        let sim = try TallydSimulation.journalOnly("idle", segments: [1, 11], last: 15, seed: 0x1D1E, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        for round in 1...3 {
            let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
            #expect(recovered.nextSequence == 16 && recovered.report.recordsReplayed == 15, "round \(round)")
            let idle = try TallydSimulation(resuming: recovered, directory: sim.directory, config: Self.config, clock: sim.clock)
            try idle.close()
            #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == [1, 11, 16], "round \(round)")
            #expect(try JournalTestKit.size(JournalTestKit.segmentPath(sim.directory, 16)) == JournalSegment.headerBytes)
        }
        let last = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(last.ledger == sim.ledger && last.nextSequence == 16)
    }

    /// The torn record was the only one of its segment: recovery leaves the bare header named
    /// for the next sequence, and the restarted journal starts that segment afresh.
    @Test func restartAfterATornTailEmptiedTheLastSegment() throws {
        let sim = try TallydSimulation.journalOnly("torn-restart", segments: [1, 11], last: 11, seed: 0x7E57, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 11)
        try JournalTestKit.truncate(path, to: (try JournalTestKit.size(path)) - 3)
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.nextSequence == 11 && recovered.segments == [1, 11] && recovered.report.tornBytesCut > 0)
        #expect(try JournalTestKit.size(path) == JournalSegment.headerBytes)

        let restarted = try TallydSimulation(resuming: recovered, directory: sim.directory, config: Self.config, clock: sim.clock)
        restarted.credits(5)
        try restarted.close()
        #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == [1, 11])
        let records = JournalTestKit.records(inSegment: try JournalTestKit.read(path))
        #expect(records.map(\.record.sequence) == Array(11...15))
        #expect(records.last?.end == (try JournalTestKit.size(path)), "one header, then records")
        _ = try expectRecovered(sim.directory, equals: restarted, snapshot: 0, "after restart")
    }

    /// After a repair cut the journal, tallyd goes on from the cut.
    @Test func restartAfterARepair() throws {
        let sim = try TallydSimulation.journalOnly("repair-restart", segments: [1, 11, 21], last: 30, seed: 0x8E9A, config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        let path = JournalTestKit.segmentPath(sim.directory, 21)
        let record = try #require(JournalTestKit.records(inSegment: try JournalTestKit.read(path)).first { $0.record.sequence == 25 })
        var bytes = try JournalTestKit.read(path)
        bytes[record.offset + record.size / 2] ^= 0x10
        try JournalTestKit.write(bytes, to: path)
        let repaired = try Recovery.run(dataDirectory: sim.directory, config: Self.config, repair: true)
        #expect(repaired.nextSequence == 25 && repaired.report.repaired != nil)

        let restarted = try TallydSimulation(resuming: repaired, directory: sim.directory, config: Self.config, clock: sim.clock)
        restarted.credits(10)
        try restarted.close()
        #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == [1, 11, 21, 25])
        let recovered = try expectRecovered(sim.directory, equals: restarted, snapshot: 0, "after repair and restart")
        #expect(recovered.nextSequence == 35)
    }

    // MARK: Power cuts

    /// `--fsync always`: every record is durable before its answer, rotations included. A
    /// power cut right after loses nothing.
    @Test func powerCutWithFsyncAlwaysLosesNothing() throws {
        let io = PowerCutJournalIO()
        let directory = try JournalTestKit.makeDirectory("power-always")
        defer { JournalTestKit.remove(directory) }
        let sim = try TallydSimulation(directory: directory, config: Self.config, mode: .always, io: io)
        sim.credits(5)
        try sim.rotate()
        sim.credits(5)
        try sim.crash()
        try io.cutPower()
        _ = try expectRecovered(directory, equals: sim, snapshot: 0, "power cut, fsync always")
    }

    /// `--fsync interval`: what was answered since the last sync may be lost, nothing before it.
    @Test func powerCutWithFsyncIntervalKeepsWhatTheLastSyncCovered() throws {
        let io = PowerCutJournalIO()
        let directory = try JournalTestKit.makeDirectory("power-interval")
        defer { JournalTestKit.remove(directory) }
        let sim = try TallydSimulation(directory: directory, config: Self.config, mode: .interval, io: io)
        sim.credits(6)
        try sim.sync()
        let synced = sim.ledger
        sim.credits(4)  // written to the OS, never synced
        try sim.crash()
        try io.cutPower()
        let recovered = try Recovery.run(dataDirectory: directory, config: Self.config)
        #expect(recovered.nextSequence == 7 && recovered.report.tornBytesCut == 0)
        #expect(recovered.ledger == synced)
    }

    /// `--fsync interval` across a rotation (every snapshot rotates): the old segment must be
    /// fdatasynced before it is closed, since later syncs only reach the new one. (A rotation
    /// that only closed it lost the old segment's unsynced records to a power cut after a later
    /// sync while the later records survived: a hole in the journal, and tallyd refused to
    /// start without --repair.)
    @Test func powerCutWithFsyncIntervalAfterARotationKeepsWhatTheLastSyncCovered() throws {
        let io = PowerCutJournalIO()
        let directory = try JournalTestKit.makeDirectory("power-interval-rotate")
        defer { JournalTestKit.remove(directory) }
        let sim = try TallydSimulation(directory: directory, config: Self.config, mode: .interval, io: io)
        sim.credits(5)
        try sim.rotate()
        sim.credits(5)
        try sim.sync()  // the periodic sync: records 1...10 answered and, supposedly, durable
        try sim.crash()
        let events = io.events.withLock { $0 }
        try io.cutPower()
        let old = JournalSegment.fileName(firstSequence: 1)
        let lastAppend = try #require(events.lastIndex { $0.hasPrefix("append \(old)") })
        let closed = try #require(events.firstIndex(of: "close \(old)"))
        #expect(events[lastAppend..<closed].contains("sync \(old)"), "events: \(events)")
        let recovered = try Recovery.run(dataDirectory: directory, config: Self.config)
        #expect(recovered.nextSequence == 11 && recovered.report.tornBytesCut == 0 && recovered.report.repaired == nil)
        #expect(recovered.ledger == sim.ledger)
    }
}
