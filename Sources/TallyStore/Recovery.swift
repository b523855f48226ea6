import Glibc
import TallyLedger

/// Rebuilds the Ledger from a data directory: the newest valid snapshot, then every journal
/// record after it, in sequence order.
///
/// - A torn record at the very end of the journal (a write cut short by a crash) is cut off and
///   reported: with `--fsync always` only work nobody was answered for can be there.
/// - Anything else wrong (a damaged record with valid records after it, a gap in the sequence,
///   a missing or unreadable segment) stops recovery with an error naming the file, the offset
///   and what to do, unless `repair` is set: then the journal is cut at the first damage and
///   the loss is reported. That is the only way data is ever dropped.
public enum Recovery {
    public struct Report: Sendable, CustomStringConvertible {
        public var snapshotPath: String?
        public var snapshotSequence: UInt64 = 0
        public var skippedSnapshots: [String] = []
        public var segments = 0
        public var recordsReplayed = 0
        public var lastSequence: UInt64 = 0
        public var tornBytesCut = 0
        public var tornSegment: String?
        /// What `repair` dropped, if anything.
        public var repaired: String?
        public var milliseconds = 0.0

        public var description: String {
            var lines = [
                snapshotPath.map { "snapshot \($0) (through record \(snapshotSequence))" } ?? "no snapshot",
                "journal: \(segments) segment(s), \(recordsReplayed) record(s) replayed, last record \(lastSequence)",
            ]
            for skipped in skippedSnapshots { lines.append("skipped damaged snapshot: \(skipped)") }
            if tornBytesCut > 0, let torn = tornSegment {
                lines.append("cut a torn tail of \(tornBytesCut) byte(s) off \(torn) (a write the crash interrupted; nobody was answered for it)")
            }
            if let repaired { lines.append("REPAIRED, data dropped: \(repaired)") }
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
    public static func run(dataDirectory: String, config: LedgerConfig, repair: Bool = false, readOnly: Bool = false)
        throws -> Recovered
    {
        let began = monotonicMilliseconds()
        var report = Report()

        // 1. The newest snapshot that reads back whole.
        var ledger = Ledger(config: config)
        var base: UInt64 = 0
        let snapshots = try SnapshotFile.list(in: dataDirectory)
        for snapshot in snapshots {
            do {
                (ledger, base) = try SnapshotFile.read(snapshot.path, config: config)
                report.snapshotPath = snapshot.path
                break
            } catch {
                report.skippedSnapshots.append("\(error)")
            }
        }
        if report.snapshotPath == nil, !snapshots.isEmpty, !repair {
            throw StoreError(
                "no snapshot in \(dataDirectory) reads back whole: \(report.skippedSnapshots.joined(separator: "; ")). "
                    + "Restore one from a backup, or start with `tallyd --repair` to rebuild from the journal alone.")
        }
        report.snapshotSequence = base

        // 2. The journal after it.
        let journalDirectory = JournalSegment.directory(in: dataDirectory)
        var segments = try DurableFile.list(journalDirectory).compactMap(JournalSegment.firstSequence(ofFileNamed:)).sorted()
        report.segments = segments.count
        var expected: UInt64? = nil  // the sequence the next record must have
        var last = base
        var index = 0
        func lose(_ what: String) throws {
            // Only reached with `repair`: cut here and drop every later segment.
            report.repaired = (report.repaired.map { $0 + "; " } ?? "") + what
        }
        segmentLoop: while index < segments.count {
            let first = segments[index]
            let path = journalDirectory + "/" + JournalSegment.fileName(firstSequence: first)
            let isLast = index == segments.count - 1
            let bytes = try DurableFile.read(path) ?? []
            let advice = "Restore the data directory from a backup, or start with `tallyd --repair` to keep everything before this point and drop the rest."

            // A gap is fine only where the snapshot already holds the missing records.
            if let want = expected, first != want, !(first > want && first - 1 <= base) {
                let problem = "journal segment \(path) starts at record \(first) but the previous segment ended before record \(want): records \(want)..\(first - 1) are missing"
                guard repair else { throw StoreError(problem + ". " + advice) }
                try lose(problem)
                try dropSegments(from: index, &segments, journalDirectory, readOnly: readOnly)
                break segmentLoop
            }
            if expected == nil, first > base + 1 {
                let problem = "the journal starts at record \(first) but the snapshot ends at record \(base): records \(base + 1)..\(first - 1) are missing"
                guard repair else { throw StoreError(problem + ". " + advice) }
                try lose(problem)
                try dropSegments(from: index, &segments, journalDirectory, readOnly: readOnly)
                break segmentLoop
            }
            if let problem = JournalSegment.headerProblem(bytes) {
                if isLast, bytes.count < JournalSegment.headerBytes, Array(bytes) == Array(JournalSegment.header.prefix(bytes.count)) {
                    // Created, then the crash came before its header was durable: nothing in it.
                    report.tornBytesCut += bytes.count
                    report.tornSegment = path
                    if !readOnly { try PosixJournalIO().removeFile(at: path) }
                    segments.removeLast()
                    break segmentLoop
                }
                let full = "journal segment \(path) at offset 0: \(problem)"
                guard repair else { throw StoreError(full + ". " + advice) }
                try lose(full)
                try dropSegments(from: index, &segments, journalDirectory, readOnly: readOnly)
                break segmentLoop
            }

            var offset = JournalSegment.headerBytes
            expected = first  // the segment's name announces its first record
            while offset < bytes.count {
                switch JournalRecord.read(bytes[offset...]) {
                case .record(let record, let size):
                    guard record.sequence == expected else {
                        let problem = "journal segment \(path) at offset \(offset): record \(record.sequence) where record \(expected!) belongs"
                        guard repair else { throw StoreError(problem + ". " + advice) }
                        try lose(problem)
                        try cut(path, at: offset, readOnly: readOnly)
                        try dropSegments(from: index + 1, &segments, journalDirectory, readOnly: readOnly)
                        break segmentLoop
                    }
                    if record.sequence > base {
                        _ = ledger.apply(record.command, at: record.timestamp)
                        report.recordsReplayed += 1
                    }
                    last = max(last, record.sequence)
                    expected = record.sequence + 1
                    offset += size
                case .truncated, .damaged:
                    let damage: String
                    if case .damaged(let why) = JournalRecord.read(bytes[offset...]) { damage = why } else { damage = "record cut short" }
                    let anythingAfter = isLast ? validRecordFollows(bytes, after: offset, beyond: last) : true
                    if isLast, !anythingAfter {
                        report.tornBytesCut = bytes.count - offset
                        report.tornSegment = path
                        if !readOnly { try DurableFile.truncate(path, to: offset) }
                        break segmentLoop
                    }
                    let problem = "journal segment \(path) at offset \(offset): \(damage), and valid records follow it"
                    guard repair else { throw StoreError(problem + ". " + advice) }
                    try lose(problem)
                    try cut(path, at: offset, readOnly: readOnly)
                    try dropSegments(from: index + 1, &segments, journalDirectory, readOnly: readOnly)
                    break segmentLoop
                }
            }
            index += 1
        }

        report.lastSequence = last
        let violations = ledger.invariantViolations()
        guard violations.isEmpty else {
            throw StoreError("the recovered state breaks \(violations.count) invariant(s), first: \(violations[0]). Restore from a backup.")
        }
        report.milliseconds = monotonicMilliseconds() - began
        return Recovered(ledger: ledger, nextSequence: last + 1, segments: segments, report: report)
    }

    /// Whether a record with a sequence above `beyond` starts anywhere after `offset`: if so, the
    /// damage at `offset` is in the middle of the journal, not a torn tail.
    static func validRecordFollows(_ bytes: [UInt8], after offset: Int, beyond: UInt64) -> Bool {
        var position = offset + 1
        while position + JournalRecord.headerBytes <= bytes.count {
            if case .record(let record, _) = JournalRecord.read(bytes[position...]), record.sequence > beyond {
                return true
            }
            position += 1
        }
        return false
    }

    private static func cut(_ path: String, at offset: Int, readOnly: Bool) throws {
        if !readOnly { try DurableFile.truncate(path, to: offset) }
    }

    private static func dropSegments(from index: Int, _ segments: inout [UInt64], _ directory: String, readOnly: Bool) throws {
        guard index < segments.count else { return }
        if !readOnly {
            for first in segments[index...] {
                try PosixJournalIO().removeFile(at: directory + "/" + JournalSegment.fileName(firstSequence: first))
            }
            try DurableFile.syncDirectory(directory)
        }
        segments.removeSubrange(index...)
    }

    static func monotonicMilliseconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1e3 + Double(ts.tv_nsec) / 1e6
    }
}
