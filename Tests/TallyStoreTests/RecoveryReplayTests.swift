import Foundation
import TallyLedger
import Testing

@testable import TallyStore

/// "Apply thousands of random commands; the state recovered from snapshot plus journal equals
/// the live state (compare a state hash), for cut points before, during and after snapshots."
@Suite struct RecoveryReplayTests {
    static let config = LedgerConfig(idempotencyTTL: JournalCommandMix.ttl)

    /// A data directory as a crash left it, and what recovery must make of it.
    struct Expectation {
        var label: String
        var path: String
        var ledger: Ledger
        var lastSequence: UInt64
        var snapshotSequence: UInt64
        var skippedSnapshots: [String] = []
    }

    func verify(_ expected: Expectation, seed: UInt64) throws {
        let context = "seed \(seed), cut point \"\(expected.label)\" (\(expected.path))"
        let recovered: Recovery.Recovered
        do {
            recovered = try Recovery.run(dataDirectory: expected.path, config: Self.config)
        } catch {
            Issue.record("recovery failed: \(error); \(context)")
            return
        }
        let report = recovered.report
        #expect(try JournalTestKit.checksum(recovered.ledger) == JournalTestKit.checksum(expected.ledger), "state hash; \(context)")
        let sameLedger = recovered.ledger == expected.ledger
        #expect(sameLedger, "recovered ledger differs from the live one; \(context)")
        #expect(recovered.ledger.invariantViolations() == [], "\(context)")
        #expect(recovered.nextSequence == expected.lastSequence + 1, "\(context)")
        #expect(report.lastSequence == expected.lastSequence, "\(context)")
        #expect(report.snapshotSequence == expected.snapshotSequence, "\(context)")
        let snapshotPath = expected.snapshotSequence == 0 ? nil : JournalTestKit.snapshotPath(expected.path, expected.snapshotSequence)
        #expect(report.snapshotPath == snapshotPath, "\(context)")
        #expect(report.recordsReplayed == Int(expected.lastSequence - expected.snapshotSequence), "\(context)")
        #expect(report.skippedSnapshots.count == expected.skippedSnapshots.count, "\(report.skippedSnapshots); \(context)")
        for (skipped, path) in zip(report.skippedSnapshots, expected.skippedSnapshots) {
            #expect(skipped.contains(path) && skipped.contains("is damaged"), "\(skipped); \(context)")
        }
        #expect(report.tornBytesCut == 0, "\(context)")
        #expect(report.repaired == nil, "\(context)")
        // Recovery changed nothing it did not have to: the journal it leaves is the one it read.
        #expect(recovered.segments == (try JournalTestKit.segmentsOnDisk(expected.path)), "\(context)")
    }

    /// A crash in the middle of writing snapshot `sequence`: half the bytes in the temp file.
    func leaveHalfWrittenTemp(in directory: String, _ ledger: Ledger, sequence: UInt64) throws -> String {
        let bytes = try SnapshotFile.encode(ledger, sequence: sequence, directoryID: .test)
        let temp = JournalTestKit.snapshotPath(directory, sequence) + ".tmp"
        try JournalTestKit.write(Array(bytes.prefix(bytes.count / 2)), to: temp)
        return temp
    }

    /// The newest snapshot file present but cut short (a disk that lost its tail).
    func leaveTruncatedSnapshot(in directory: String, _ ledger: Ledger, sequence: UInt64) throws -> String {
        let bytes = try SnapshotFile.encode(ledger, sequence: sequence, directoryID: .test)
        let path = JournalTestKit.snapshotPath(directory, sequence)
        try JournalTestKit.write(Array(bytes.prefix(bytes.count * 2 / 3)), to: path)
        return path
    }

    func flipByte(in path: String, at fraction: Double = 0.5) throws {
        var bytes = try JournalTestKit.read(path)
        bytes[Int(Double(bytes.count - 1) * fraction)] ^= 0x20
        try JournalTestKit.write(bytes, to: path)
    }

    @Test func recoveredStateEqualsTheLiveStateAtEveryCutPoint() throws {
        let seed: UInt64 = 0x7A11_D00D_0000_0001
        let directory = try JournalTestKit.makeDirectory("replay")
        var copies: [String] = [directory]
        defer { copies.forEach(JournalTestKit.remove) }
        let sim = try TallydSimulation(directory: directory, config: Self.config)
        var mix = JournalCommandMix(seed: seed)
        var expectations: [Expectation] = []

        /// The directory as it is now, and what recovery must give for it.
        func capture(_ label: String, fallback: UInt64? = nil, damage: (String) throws -> [String] = { _ in [] }) throws {
            let path = try sim.copyDataDirectory("replay-cut")
            copies.append(path)
            let skipped = try damage(path)
            expectations.append(Expectation(
                label: label, path: path, ledger: sim.ledger, lastSequence: sim.lastSequence,
                snapshotSequence: fallback ?? sim.snapshots.last ?? 0, skippedSnapshots: skipped))
        }
        /// A snapshot with a crash captured at each of its stages.
        func snapshotCrashingAtEachStage(_ number: Int) throws {
            let previous = sim.snapshots.last ?? 0
            try sim.snapshot { stage, sequence in
                switch stage {
                case .rotated:
                    try capture("snapshot \(number): crash after rotating, snapshot half written") { path in
                        _ = try leaveHalfWrittenTemp(in: path, sim.ledger, sequence: sequence)
                        return []
                    }
                case .written:
                    // Renamed into place, older ones not pruned yet (up to three snapshots).
                    try capture("snapshot \(number): written, not pruned", fallback: sequence)
                    if previous > 0 {
                        try capture("snapshot \(number): written but damaged, not pruned", fallback: previous) { path in
                            let newest = JournalTestKit.snapshotPath(path, sequence)
                            try flipByte(in: newest)
                            return [newest]
                        }
                    }
                case .pruned:
                    try capture("snapshot \(number): pruned, covered segments not removed yet", fallback: sequence)
                }
            }
        }

        for step in 1...3_000 {
            let (command, delay) = mix.next(sim.ledger)
            sim.apply(command, step: delay)
            switch step {
            case 350:
                try capture("before the first snapshot")
            case 700:
                try snapshotCrashingAtEachStage(1)
                try capture("right after snapshot 1")
            case 1_000:
                try capture("between snapshots 1 and 2")
            case 1_400:
                try snapshotCrashingAtEachStage(2)
                try capture("right after snapshot 2")
                // The newest damaged: the older kept one and the journal after it still hold everything.
                try capture("right after snapshot 2, which is damaged", fallback: sim.snapshots[0]) { path in
                    let newest = JournalTestKit.snapshotPath(path, sim.snapshots[1])
                    try flipByte(in: newest)
                    return [newest]
                }
            case 1_750:
                try capture("between snapshots 2 and 3")
                try capture("between snapshots 2 and 3, a half-written snapshot left behind") { path in
                    _ = try leaveHalfWrittenTemp(in: path, sim.ledger, sequence: sim.lastSequence)
                    return []
                }
                try capture("between snapshots 2 and 3, a newer snapshot cut short") { path in
                    [try leaveTruncatedSnapshot(in: path, sim.ledger, sequence: sim.lastSequence)]
                }
                try capture("between snapshots 2 and 3, newest snapshot with a bad header", fallback: sim.snapshots[0]) { path in
                    let newest = JournalTestKit.snapshotPath(path, sim.snapshots[1])
                    try flipByte(in: newest, at: 0)
                    return [newest]
                }
            case 2_100:
                try snapshotCrashingAtEachStage(3)
                try capture("right after snapshot 3 (snapshot 1 pruned)")
                try capture("right after snapshot 3, which is damaged", fallback: sim.snapshots[1]) { path in
                    let newest = JournalTestKit.snapshotPath(path, sim.snapshots[2])
                    try flipByte(in: newest, at: 0.9)
                    return [newest]
                }
            case 2_450:
                try capture("between snapshots 3 and 4")
                try capture("between snapshots 3 and 4, newest snapshot emptied", fallback: sim.snapshots[1]) { path in
                    let newest = JournalTestKit.snapshotPath(path, sim.snapshots[2])
                    try JournalTestKit.write([], to: newest)
                    return [newest]
                }
            case 2_800:
                try sim.snapshot()
            default:
                break
            }
        }
        try sim.close()
        try capture("at the end, journal closed")

        // The mix exercised what it should: refusals and replays that were not journaled.
        #expect(sim.snapshots.count == 4, "seed \(seed)")
        #expect(sim.commandsNotJournaled > 100 && sim.replays > 50, "seed \(seed): \(sim.commandsNotJournaled) not journaled, \(sim.replays) replays")
        #expect(sim.lastSequence > 2_000, "seed \(seed)")
        // Snapshots and segments as the Snapshotter leaves them: the newest two, and the
        // journal from the older of those on.
        #expect(try SnapshotFile.list(in: directory).map(\.sequence) == [sim.snapshots[3], sim.snapshots[2]], "seed \(seed)")
        #expect(try JournalTestKit.segmentsOnDisk(directory) == [sim.snapshots[2] + 1, sim.snapshots[3] + 1], "seed \(seed)")

        #expect(expectations.count == 25)
        for expected in expectations {
            try verify(expected, seed: seed)
        }
    }

    /// A crash while a snapshot was being written leaves its temp file: never read, and
    /// recovery (not `verify`) clears it away.
    @Test func halfWrittenSnapshotIsIgnoredAndCleared() throws {
        let seed: UInt64 = 0x7A11_D00D_0000_0004
        let sim = try TallydSimulation(directory: try JournalTestKit.makeDirectory("temp-snapshot"), config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        var mix = JournalCommandMix(seed: seed)
        sim.advance(to: 120, &mix)
        let snapshot = try sim.snapshot()
        sim.advance(to: 180, &mix)
        try sim.close()
        let temp = try leaveHalfWrittenTemp(in: sim.directory, sim.ledger, sequence: 180)
        let looked = try Recovery.run(dataDirectory: sim.directory, config: Self.config, readOnly: true)
        #expect(looked.report.snapshotSequence == snapshot && looked.report.skippedSnapshots == [] && looked.nextSequence == 181)
        #expect(JournalTestKit.exists(temp), "verify must not change the data directory")
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.report.snapshotSequence == snapshot && recovered.report.recordsReplayed == 60)
        #expect(recovered.ledger == sim.ledger)
        #expect(!JournalTestKit.exists(temp))
        #expect(try JournalTestKit.allFiles(sim.directory) == [
            "journal/" + JournalSegment.fileName(firstSequence: 1), "journal/" + JournalSegment.fileName(firstSequence: snapshot + 1),
            SnapshotFile.fileName(sequence: snapshot),
        ])
    }

    /// Every snapshot is damaged: recovery stops and says so, rather than guess.
    @Test func allSnapshotsDamagedStopsRecovery() throws {
        let seed: UInt64 = 0x7A11_D00D_0000_0002
        let sim = try TallydSimulation(directory: try JournalTestKit.makeDirectory("all-damaged"), config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        var mix = JournalCommandMix(seed: seed)
        for _ in 0..<2 {
            sim.advance(to: sim.lastSequence + 150, &mix)
            try sim.snapshot()
        }
        sim.advance(to: sim.lastSequence + 50, &mix)
        try sim.close()
        for sequence in sim.snapshots {
            try flipByte(in: JournalTestKit.snapshotPath(sim.directory, sequence))
        }
        let error = try #require(throws: StoreError.self, "seed \(seed)") {
            try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        }
        #expect(error.description.contains("no snapshot in \(sim.directory) reads back whole"), "\(error)")
        #expect(error.description.contains("--repair"), "\(error)")
        for sequence in sim.snapshots {
            #expect(error.description.contains(JournalTestKit.snapshotPath(sim.directory, sequence)), "\(error)")
        }
    }

    /// Right after the very first snapshot there is no older snapshot to fall back to, so the
    /// journal it covers must stay: a damaged first snapshot then loses nothing. (It used to be
    /// removed at once, the oldest kept snapshot being that snapshot itself.)
    @Test func damagedFirstSnapshotCanStillBeRecovered() throws {
        let seed: UInt64 = 0x7A11_D00D_0000_0003
        let sim = try TallydSimulation(directory: try JournalTestKit.makeDirectory("first-damaged"), config: Self.config)
        defer { JournalTestKit.remove(sim.directory) }
        var mix = JournalCommandMix(seed: seed)
        sim.advance(to: 200, &mix)
        let first = try sim.snapshot()
        sim.advance(to: 260, &mix)
        try sim.close()
        try flipByte(in: JournalTestKit.snapshotPath(sim.directory, first))
        #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == [1, first + 1], "seed \(seed)")
        let recovered = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
        #expect(recovered.report.snapshotPath == nil && recovered.report.snapshotSequence == 0, "seed \(seed)")
        #expect(recovered.report.skippedSnapshots.count == 1, "seed \(seed)")
        #expect(recovered.report.recordsReplayed == 260 && recovered.report.repaired == nil, "seed \(seed)")
        let same = recovered.ledger == sim.ledger
        #expect(same, "seed \(seed)")
        #expect(recovered.nextSequence == 261, "seed \(seed)")
    }

    // MARK: A snapshot newer than the end of the journal

    /// With `--fsync interval` a power cut can take the journal's tail while a snapshot written
    /// (and fsynced) after it survives: the snapshot holds records the journal lost. Recovery
    /// must start from the snapshot, the journal must go on after it, and later recoveries
    /// must still work.
    enum LostTail: String, CaseIterable {
        /// The segment ends at a record boundary before the snapshot's sequence.
        case cleanCut
        /// Same, and the segment the rotation created for the snapshot is gone too.
        case cleanCutWithoutNewSegment
        /// The segment ends in the middle of a record the snapshot holds (a torn page).
        case tornRecord
        /// Same, but the segment the rotation created is gone, so the torn one is the last.
        case tornRecordWithoutNewSegment
        /// The segment's size survived but its last pages are zeros (ext4 after a power cut).
        case zeroFilled
    }

    @Test(arguments: LostTail.allCases)
    func snapshotNewerThanTheJournalEnd(lost: LostTail) throws {
        let seed: UInt64 = 0x7A11_D00D_0000_0010
        let sim = try TallydSimulation(directory: try JournalTestKit.makeDirectory("lost-tail"), config: Self.config, mode: .interval)
        defer { JournalTestKit.remove(sim.directory) }
        var mix = JournalCommandMix(seed: seed)
        sim.advance(to: 100, &mix)
        let older = try sim.snapshot()  // segment 101 on
        sim.advance(to: 200, &mix)
        try sim.waitDurable()
        let segment = JournalTestKit.segmentPath(sim.directory, older + 1)
        // What the last fsync covered: the records so far (the file runs on with zeros written ahead).
        let durableBytes = JournalTestKit.records(inSegment: try JournalTestKit.read(segment)).last?.end ?? JournalSegment.headerBytes
        sim.advance(to: 300, &mix)
        let newer = try sim.snapshot()  // rotates: segment 301 on (header only)
        let liveAtSnapshot = sim.ledger
        let clock = sim.clock
        try sim.crash()
        #expect(try JournalTestKit.segmentsOnDisk(sim.directory) == [older + 1, newer + 1])

        let records = JournalTestKit.records(inSegment: try JournalTestKit.read(segment))
        let tornAt = try #require(records.first { $0.offset >= durableBytes })
        #expect(tornAt.offset == durableBytes && tornAt.record.sequence == 201)
        switch lost {
        case .cleanCut:
            try JournalTestKit.truncate(segment, to: durableBytes)
        case .cleanCutWithoutNewSegment:
            try JournalTestKit.truncate(segment, to: durableBytes)
            JournalTestKit.remove(JournalTestKit.segmentPath(sim.directory, newer + 1))
        case .tornRecord:
            try JournalTestKit.truncate(segment, to: durableBytes + tornAt.size / 2)
        case .tornRecordWithoutNewSegment:
            try JournalTestKit.truncate(segment, to: durableBytes + tornAt.size / 2)
            JournalTestKit.remove(JournalTestKit.segmentPath(sim.directory, newer + 1))
        case .zeroFilled:
            var bytes = try JournalTestKit.read(segment)
            for index in durableBytes..<bytes.count { bytes[index] = 0 }
            try JournalTestKit.write(bytes, to: segment)
        }

        func body() throws {
            // 1. The first start after the power cut.
            let first = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
            #expect(first.report.snapshotSequence == newer && first.report.recordsReplayed == 0, "\(lost), seed \(seed)")
            #expect(first.nextSequence == newer + 1, "\(lost), seed \(seed)")
            #expect(try JournalTestKit.checksum(first.ledger) == JournalTestKit.checksum(liveAtSnapshot), "\(lost), seed \(seed)")
            let same = first.ledger == liveAtSnapshot
            #expect(same, "\(lost), seed \(seed)")

            // 2. Runs on: new records after the snapshot, then a clean stop.
            let second = try TallydSimulation(resuming: first, directory: sim.directory, config: Self.config, clock: clock)
            second.advance(to: newer + 80, &mix)
            try second.close()
            let afterSecond = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
            #expect(afterSecond.nextSequence == newer + 81, "\(lost), seed \(seed)")
            #expect(afterSecond.report.recordsReplayed == 80, "\(lost), seed \(seed)")
            #expect(try JournalTestKit.checksum(afterSecond.ledger) == JournalTestKit.checksum(second.ledger), "\(lost), seed \(seed)")
            let sameAfterSecond = afterSecond.ledger == second.ledger
            #expect(sameAfterSecond, "\(lost), seed \(seed)")

            // 3. Runs again, snapshots (which prunes the oldest snapshot and the damaged
            //    segment with it), then crashes.
            let third = try TallydSimulation(resuming: afterSecond, directory: sim.directory, config: Self.config, clock: second.clock)
            third.advance(to: newer + 120, &mix)
            let latest = try third.snapshot()
            third.advance(to: newer + 150, &mix)
            try third.crash()
            #expect(try SnapshotFile.list(in: sim.directory).map(\.sequence) == [latest, newer], "\(lost), seed \(seed)")
            #expect(try JournalTestKit.segmentsOnDisk(sim.directory).first! > older + 1, "the lossy segment is gone; \(lost)")
            let afterThird = try Recovery.run(dataDirectory: sim.directory, config: Self.config)
            #expect(afterThird.nextSequence == newer + 151, "\(lost), seed \(seed)")
            #expect(afterThird.report.snapshotSequence == latest && afterThird.report.recordsReplayed == 30, "\(lost), seed \(seed)")
            let sameAfterThird = afterThird.ledger == third.ledger
            #expect(sameAfterThird, "\(lost), seed \(seed)")
        }
        // (.tornRecord and .zeroFilled used to stop recovery: damage in a segment that is not
        // the last was never taken as harmless, even with every record in it held by the snapshot.)
        try body()
    }
}
