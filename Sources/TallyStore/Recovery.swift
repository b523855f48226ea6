import Glibc
import TallyLedger

/// Rebuilds the Ledger from a data directory: the newest valid snapshot, then every journal
/// record after it, in sequence order.
///
/// - A torn record at the very end of the journal (a write cut short by a crash) is cut off and
///   reported: with `--fsync always` only work nobody was answered for can be there.
/// - Zeros after a segment's last record are the space the journal writes ahead (PosixSegmentFile),
///   not damage: the records end there.
/// - Anything else wrong (a damaged record with valid records after it, a gap in the sequence,
///   a missing or unreadable segment) stops recovery with an error naming the file, the offset
///   and what to do, unless `repair` is set: then the journal is cut at the first damage and
///   the loss is reported. That is the only way data is ever dropped.
public enum Recovery {
    public struct Report: Sendable, CustomStringConvertible {
        /// The data directory's id (nil: a directory without DIRECTORY_ID whose files name none).
        public var directoryID: DirectoryID?
        /// Files that name another directory's id: never read, never removed, left for the operator.
        public var foreignFiles: [(path: String, directoryID: DirectoryID)] = []
        public var snapshotPath: String?
        public var snapshotSequence: UInt64 = 0
        public var skippedSnapshots: [String] = []
        public var segments = 0
        public var recordsReplayed = 0
        public var lastSequence: UInt64 = 0
        public var tornBytesCut = 0
        public var tornSegment: String?
        /// What the cut tail was, as far as its bytes tell (nil: nothing cut).
        public var tornTail: TornTail?
        /// Where the bytes of a tail that may have been a damaged complete record were kept.
        public var tornTailKeptAt: String?
        /// Damaged bytes skipped because the snapshot already holds every record they could be.
        public var skippedCoveredBytes = 0
        /// What `repair` dropped, if anything.
        public var repaired: String?
        /// Where the journal was cut after `through` (a resume after a journal failure), if it was.
        public var cutAfterThrough: String?
        public var milliseconds = 0.0
        /// How long each step took.
        public var phases = StartupPhases()

        /// One line for each foreign file: its path, whose it is, and what to do.
        public var foreignFileLines: [String] {
            foreignFiles.map { foreign in
                "FOREIGN, not used: \(foreign.path) belongs to data directory \(foreign.directoryID), not this one"
                    + (directoryID.map { " (\($0))" } ?? "")
                    + ": another tallyd wrote it here, or it was copied in. Move it out of the data directory;"
                    + " to recover from it, restore its directory's backup with `tallyd restore` instead"
            }
        }

        public var description: String {
            var lines = [
                directoryID.map { "data directory id \($0)" } ?? "no data directory id yet (tallyd records one when it starts here)",
                snapshotPath.map { "snapshot \($0) (through record \(snapshotSequence))" } ?? "no snapshot",
                "journal: \(segments) segment(s), \(recordsReplayed) record(s) replayed, last record \(lastSequence)",
                "phases: \(phases)",
            ]
            for skipped in skippedSnapshots { lines.append("skipped damaged snapshot: \(skipped)") }
            lines += foreignFileLines
            if tornBytesCut > 0, let torn = tornSegment {
                switch tornTail {
                case .unverifiable(let sequence)?:
                    let record = sequence.map { "record \($0)" } ?? "the last record"
                    lines.append(
                        "cut \(tornBytesCut) byte(s) off \(torn): \(record) has all its bytes but they fail their checksum. Either the "
                            + "crash tore its write (then nobody was answered for it) or the disk damaged a complete record (then its "
                            + "call may have been answered OK, and is lost); its bytes cannot tell which"
                            + (tornTailKeptAt.map { ". They are kept in \($0)" } ?? ""))
                default:
                    lines.append("cut a torn tail of \(tornBytesCut) byte(s) off \(torn) (a write the crash interrupted; nobody was answered for it)")
                }
            }
            if skippedCoveredBytes > 0 {
                lines.append("skipped \(skippedCoveredBytes) damaged journal byte(s) whose records the snapshot already holds")
            }
            if let repaired { lines.append("REPAIRED, data dropped: \(repaired)") }
            if let cutAfterThrough { lines.append(cutAfterThrough) }
            return lines.joined(separator: "\n")
        }
    }

    public struct Recovered: Sendable {
        public var ledger: Ledger
        public var nextSequence: UInt64
        /// First sequences of the journal segments left, oldest first.
        public var segments: [UInt64]
        public var report: Report
    }

    /// `readOnly` (for `verify`) reports a torn tail but changes no file.
    /// `allowBrokenInvariants` (for `reconcile`) returns a state that breaks invariants instead of
    /// refusing it, so that it can be examined and repaired.
    /// `through` stops the replay after that record (the Writer's rebuild of its last durable
    /// state after a journal failure: records past it may be in the files but were never durable).
    /// Unless `readOnly`, the journal is then cut right after record `through` (the Writer's
    /// resume once the disk takes writes again: what was never durable is never applied).
    /// A resume runs beside a live tallyd, so it leaves snapshot temp files alone.
    public static func run(
        dataDirectory: String, config: LedgerConfig, repair: Bool = false, readOnly: Bool = false, allowBrokenInvariants: Bool = false,
        through: UInt64 = .max
    ) throws -> Recovered
    {
        // A directory that does not exist yet holds nothing: the state of a new one (check-config).
        guard let opened = try StoreDirectory.ifPresent(dataDirectory) else {
            return Recovered(ledger: Ledger(config: config), nextSequence: 1, segments: [], report: Report())
        }
        return try run(
            dataDirectory: opened, config: config, repair: repair, readOnly: readOnly,
            allowBrokenInvariants: allowBrokenInvariants, through: through)
    }

    /// The same, reading and changing files relative to the open `dataDirectory` (a tallyd's own).
    public static func run(
        dataDirectory: StoreDirectory, config: LedgerConfig, repair: Bool = false, readOnly: Bool = false,
        allowBrokenInvariants: Bool = false, through: UInt64 = .max
    ) throws -> Recovered
    {
        let began = monotonicMilliseconds()
        var report = Report()

        // 0. A snapshot interrupted before its rename left only a temp file: never read, removed.
        if !readOnly, through == .max {
            for name in try dataDirectory.names() where name.hasSuffix(".tmp") {
                try? dataDirectory.remove(name)
            }
        }

        // 1. The newest snapshot of this directory that reads back whole.
        let ownID = try DirectoryIdentity.find(in: dataDirectory).id
        report.directoryID = ownID
        /// A file naming another directory: reported, never read.
        func isForeign(_ path: String, _ id: DirectoryID?) -> Bool {
            guard let id, let ownID, id != ownID else { return false }
            report.foreignFiles.append((path, id))
            return true
        }
        var ledger = Ledger(config: config)
        var base: UInt64 = 0
        let snapshots = try SnapshotFile.list(in: dataDirectory).filter { snapshot in
            !isForeign(dataDirectory.path(of: snapshot.name), try? SnapshotFile.header(of: snapshot.name, in: dataDirectory).directoryID)
        }
        for snapshot in snapshots {
            do {
                (ledger, base) = try SnapshotFile.read(
                    snapshot.name, in: dataDirectory, config: config, checkInvariants: false, phases: &report.phases)
                report.snapshotPath = dataDirectory.path(of: snapshot.name)
                break
            } catch {
                report.skippedSnapshots.append("\(error)")
            }
        }
        report.snapshotSequence = base
        // Without a readable snapshot the journal alone can still rebuild everything, as long
        // as it starts at record 1; the gap check below says so if it does not.
        let snapshotNote = report.skippedSnapshots.isEmpty || report.snapshotPath != nil
            ? "" : " (no snapshot in \(dataDirectory.path) reads back whole: \(report.skippedSnapshots.joined(separator: "; ")))"
        let advice = "Restore the data directory from a backup, or start with `tallyd --repair` to keep everything before this point and drop the rest."

        if report.phases.steps.isEmpty { report.phases.finished("no snapshot") }
        // The snapshot's state is checked while the journal replays (InvariantCheck says why).
        let check = report.snapshotPath == nil ? nil : InvariantCheck(ledger)

        // 2. The journal after it.
        let journal = try dataDirectory.subdirectory(JournalSegment.directoryName, create: false)
        var segments: [UInt64] = []
        if let journal {
            segments = try journal.names().compactMap(JournalSegment.firstSequence(ofFileNamed:)).sorted().filter { first in
                let name = JournalSegment.fileName(firstSequence: first)
                return !isForeign(journal.path(of: name), JournalSegment.directoryID(of: name, in: journal))
            }
        }
        report.segments = segments.count
        var last = base  // the newest record the state holds
        var index = 0
        /// Damage is harmless when every record it can have destroyed is one the snapshot holds.
        func covered(upTo resumeSequence: UInt64) -> Bool {
            resumeSequence - 1 <= base
        }
        func fail(_ problem: String, cutting name: String?, at offset: Int, dropFrom dropIndex: Int) throws {
            guard repair else { throw StoreError(problem + snapshotNote + ". " + advice) }
            report.repaired = (report.repaired.map { $0 + "; " } ?? "") + problem
            if let name, let journal, !readOnly { try DurableFile.truncate(name, in: journal, to: offset) }
            if let journal { try dropSegments(from: dropIndex, &segments, journal, readOnly: readOnly) }
        }

        segmentLoop: while index < segments.count {
            let first = segments[index]
            // (Segments were found in it, so there is a journal directory.)
            let journal = journal!
            let name = JournalSegment.fileName(firstSequence: first)
            let path = journal.path(of: name)
            let isLast = index == segments.count - 1
            let next = isLast ? nil : segments[index + 1]
            var expected = last + 1  // the sequence the next record must have

            // A segment every record of which the snapshot holds is not even read.
            if let next, next - 1 <= base {
                index += 1
                continue
            }
            if first > expected {
                let problem = index == 0 || last == base
                    ? "the journal starts at record \(first) but the snapshot ends at record \(base): records \(expected)..\(first - 1) are missing"
                    : "journal segment \(path) starts at record \(first) but the previous segment ended before record \(expected): records \(expected)..\(first - 1) are missing"
                try fail(problem, cutting: nil, at: 0, dropFrom: index)
                break segmentLoop
            }
            let bytes = try DurableFile.read(name, in: journal) ?? []
            let header: JournalSegment.Header
            switch JournalSegment.header(of: bytes) {
            case .success(let found): header = found
            case .failure(let problem):
                // (A partial header's id bytes cannot be told from damage, so only the rest is compared.)
                let known = min(bytes.count, 16)
                let partialHeader = bytes.count < JournalSegment.headerBytes
                    && Array(bytes[0..<known]) == Array(JournalSegment.header(DirectoryID(high: 0, low: 0)).prefix(known))
                if isLast, partialHeader || bytes.allSatisfy({ $0 == 0 }) {
                    // Created, then the crash came before its header was durable (some file
                    // systems show such blocks as zeros): no record can be in it.
                    report.tornBytesCut += bytes.count
                    report.tornSegment = path
                    if !readOnly { try journal.remove(name) }
                    segments.removeLast()
                    break segmentLoop
                }
                if let next, next <= expected || covered(upTo: next) {
                    index += 1
                    continue
                }
                try fail("journal segment \(path) at offset 0: \(problem)", cutting: nil, at: 0, dropFrom: index)
                break segmentLoop
            }

            var offset = header.bytes
            expected = first
            while offset < bytes.count {
                if bytes[offset...].allSatisfy({ $0 == 0 }) {
                    // The zeros written ahead of the records (PosixSegmentFile): they end here.
                    if isLast, !readOnly { try DurableFile.truncate(name, in: journal, to: offset) }
                    break
                }
                // A record the snapshot holds is checked (length, checksum, sequence), not decoded.
                if let peeked = JournalRecord.peek(bytes[offset...]), peeked.sequence == expected, peeked.sequence <= last,
                    peeked.sequence <= through
                {
                    expected = peeked.sequence + 1
                    offset += peeked.bytes
                    continue
                }
                let read = JournalRecord.read(bytes[offset...])
                if case .record(let record, _) = read, record.sequence > through {
                    if !readOnly {
                        try DurableFile.truncate(name, in: journal, to: offset)
                        try dropSegments(from: index + 1, &segments, journal, readOnly: false)
                        report.cutAfterThrough = "cut the journal after record \(through) at offset \(offset) of \(path): records from \(record.sequence) on were never made durable"
                    }
                    break segmentLoop
                }
                if case .record(let record, let size) = read, record.sequence == expected {
                    if record.sequence > last {  // not held by the snapshot, not seen before
                        _ = ledger.apply(record.command, at: record.timestamp, day: record.day, origin: record.origin)
                        report.recordsReplayed += 1
                    }
                    last = max(last, record.sequence)
                    expected = record.sequence + 1
                    offset += size
                    continue
                }
                // Damage, or a record out of sequence. A whole record out of sequence is never a
                // torn write, so it is never skipped; damaged bytes may be, where valid data resumes
                // after them and nothing the snapshot lacks can have been lost.
                let damage: String
                switch read {
                case .record(let record, _): damage = "record \(record.sequence) where record \(expected) belongs"
                case .damaged(let why): damage = why
                case .truncated: damage = "record cut short"
                }
                let isDamage = if case .record = read { false } else { true }
                if isDamage {
                    // The first valid record that could follow the damaged one, so that only the
                    // damaged bytes are skipped (records after it are read as usual).
                    if let resume = nextValidRecord(bytes, after: offset, beyond: expected - 1) {
                        if covered(upTo: resume.sequence) {
                            report.skippedCoveredBytes += resume.offset - offset
                            offset = resume.offset
                            expected = resume.sequence
                            continue
                        }
                    } else if let next {
                        if next <= expected || covered(upTo: next) {
                            report.skippedCoveredBytes += bytes.count - offset
                            break  // on to the next segment
                        }
                    } else {
                        // The end of the journal: a write the crash cut short, or a complete last
                        // record the disk damaged, as far as its bytes can tell (TornTail).
                        let tail = TornTail(bytes, at: offset)
                        report.tornBytesCut = bytes.count - offset
                        report.tornSegment = path
                        report.tornTail = tail
                        if !readOnly {
                            if case .unverifiable = tail {
                                // Perhaps an answered call: its bytes are kept, never just dropped.
                                let kept = name + ".cut-at-\(offset)"
                                try DurableFile.write(Array(bytes[offset..<TornTail.recordEnd(bytes, at: offset)]), to: kept, in: journal)
                                report.tornTailKeptAt = journal.path(of: kept)
                            }
                            try DurableFile.truncate(name, in: journal, to: offset)
                        }
                        break segmentLoop
                    }
                }
                try fail(
                    "journal segment \(path) at offset \(offset): \(damage), and valid records follow it",
                    cutting: name, at: offset, dropFrom: index + 1)
                break segmentLoop
            }
            index += 1
        }

        // A damaged newer snapshot still proves its records existed: the state must reach them.
        if let newest = snapshots.first?.sequence, last < newest, report.repaired == nil {
            let problem = "the newest snapshot, snapshot \(dataDirectory.path(of: snapshots[0].name)), held records up to \(newest), but the readable snapshots and the journal reach only record \(last)"
            guard repair else { throw StoreError(problem + snapshotNote + ". " + advice) }
            report.repaired = problem
        }
        report.lastSequence = last
        report.phases.finished("journal replay")
        let violations = (check ?? InvariantCheck(ledger)).wait()
        report.phases.finished(check == nil ? "invariant check" : "invariant check after the replay")
        guard violations.isEmpty || allowBrokenInvariants else {
            throw StoreError("the recovered state breaks \(violations.count) invariant(s), first: \(violations[0]). Restore from a backup.")
        }
        report.milliseconds = monotonicMilliseconds() - began
        return Recovered(ledger: ledger, nextSequence: last + 1, segments: segments, report: report)
    }

    /// The first valid record with a sequence above `beyond` that starts after `offset`, if any:
    /// if there is one, the damage at `offset` is in the middle of the journal, not a torn tail.
    static func nextValidRecord(_ bytes: [UInt8], after offset: Int, beyond: UInt64) -> (offset: Int, sequence: UInt64)? {
        var position = offset + 1
        while position + JournalRecord.headerBytes <= bytes.count {
            if case .record(let record, _) = JournalRecord.read(bytes[position...]), record.sequence > beyond {
                return (position, record.sequence)
            }
            position += 1
        }
        return nil
    }

    private static func dropSegments(from index: Int, _ segments: inout [UInt64], _ directory: StoreDirectory, readOnly: Bool) throws {
        guard index < segments.count else { return }
        if !readOnly {
            for first in segments[index...] {
                try directory.remove(JournalSegment.fileName(firstSequence: first))
            }
            try directory.sync()
        }
        segments.removeSubrange(index...)
    }

    static func monotonicMilliseconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
    }
}
