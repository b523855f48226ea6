import Dispatch
import Foundation
import Glibc
import Synchronization
import TallyLedger
import TallyTestSupport

@testable import TallyStore

// Helpers for the journal and recovery tests. Names carry a `JournalTest`/`Tallyd` prefix so
// they cannot collide with helpers other test files of this target may add.

typealias JournalTestRNG = SplitMix64

struct JournalTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// File helpers.
enum JournalTestKit {
    static let startClock: Timestamp = 1_700_000_000_000_000

    /// A fresh, empty directory under the temporary directory.
    static func makeDirectory(_ label: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tally-wal-\(label)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A copy of a whole data directory, as a crash at this moment would leave it on disk.
    static func copyDirectory(_ source: String, label: String) throws -> String {
        let target = FileManager.default.temporaryDirectory
            .appendingPathComponent("tally-wal-\(label)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.copyItem(atPath: source, toPath: target)
        return target
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func read(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    static func size(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.size] as? NSNumber)?.intValue ?? -1
    }

    static func truncate(_ path: String, to length: Int) throws {
        guard Glibc.truncate(path, off_t(length)) == 0 else {
            throw JournalTestFailure("cannot truncate \(path) to \(length): errno \(errno)")
        }
    }

    static func segmentPath(_ dataDirectory: String, _ first: UInt64) -> String {
        JournalSegment.directory(in: dataDirectory) + "/" + JournalSegment.fileName(firstSequence: first)
    }

    static func snapshotPath(_ dataDirectory: String, _ sequence: UInt64) -> String {
        dataDirectory + "/" + SnapshotFile.fileName(sequence: sequence)
    }

    /// First sequences of the segment files on disk, oldest first.
    static func segmentsOnDisk(_ dataDirectory: String) throws -> [UInt64] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: JournalSegment.directory(in: dataDirectory))) ?? []
        return names.compactMap(JournalSegment.firstSequence(ofFileNamed:)).sorted()
    }

    /// Every file name in the data directory and its journal directory (sorted).
    static func allFiles(_ dataDirectory: String) throws -> [String] {
        let top = try FileManager.default.contentsOfDirectory(atPath: dataDirectory).filter { $0 != JournalSegment.directoryName }
        let journal = (try? FileManager.default.contentsOfDirectory(atPath: JournalSegment.directory(in: dataDirectory))) ?? []
        return (top + journal.map { JournalSegment.directoryName + "/" + $0 }).sorted()
    }

    struct RecordSpan {
        var offset: Int
        var size: Int
        var record: JournalRecord
        var end: Int { offset + size }
    }

    /// The whole records of a segment file's bytes, in order, with their offsets.
    static func records(inSegment bytes: [UInt8]) -> [RecordSpan] {
        var spans: [RecordSpan] = []
        var offset = JournalSegment.headerBytes
        while offset < bytes.count, case .record(let record, let size) = JournalRecord.read(bytes[offset...]) {
            spans.append(RecordSpan(offset: offset, size: size, record: record))
            offset += size
        }
        return spans
    }

    /// The exact contents of every journal segment file, to put them back between cases.
    static func saveJournal(_ dataDirectory: String) throws -> [UInt64: [UInt8]] {
        var saved: [UInt64: [UInt8]] = [:]
        for first in try segmentsOnDisk(dataDirectory) {
            saved[first] = try read(segmentPath(dataDirectory, first))
        }
        return saved
    }

    static func restoreJournal(_ dataDirectory: String, _ saved: [UInt64: [UInt8]]) throws {
        for first in try segmentsOnDisk(dataDirectory) where saved[first] == nil {
            remove(segmentPath(dataDirectory, first))
        }
        for (first, bytes) in saved {
            try write(bytes, to: segmentPath(dataDirectory, first))
        }
    }

    static func checksum(_ ledger: Ledger) throws -> UInt32 { try LedgerSnapshot.stateChecksum(ledger) }
}

/// Outcomes of the journal's callbacks, which run on the journal's own thread.
final class JournalCallbackLog: Sendable {
    let failures = Mutex<[String]>([])
    let completed = Atomic<Int>(0)

    func record(_ result: Result<Void, any Error>, _ what: String) {
        if case .failure(let error) = result {
            failures.withLock { $0.append("\(what): \(error)") }
        }
        completed.add(1, ordering: .sequentiallyConsistent)
    }
}

final class JournalResultBox: Sendable {
    let result = Mutex<Result<Void, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)

    func set(_ result: Result<Void, any Error>) {
        self.result.withLock { $0 = result }
        done.signal()
    }

    func wait(_ what: String) throws {
        guard done.wait(timeout: .now() + 30) == .success else { throw JournalTestFailure("\(what): no callback within 30 s") }
        switch result.withLock({ $0 }) {
        case .success?: return
        case .failure(let error)?: throw JournalTestFailure("\(what) failed: \(error)")
        case nil: throw JournalTestFailure("\(what): callback without result")
        }
    }
}

/// Builds a data directory the way tallyd does: commands applied to a Ledger with strictly
/// increasing timestamps, each state-changing one journaled through a real FileJournal with
/// the next sequence number, and snapshots taken like the Snapshotter does (rotate, write and
/// prune, remove the segments the oldest kept snapshot covers).
final class TallydSimulation {
    let directory: String
    let config: LedgerConfig
    private(set) var ledger: Ledger
    private(set) var nextSequence: UInt64
    private(set) var clock: Timestamp
    /// Records journaled by this simulation (not those of earlier runs it resumed from).
    private(set) var journaled: [JournalRecord] = []
    /// The live state right after each sequence number (and at the starting sequence - 1).
    private(set) var states: [UInt64: Ledger] = [:]
    /// Sequences of the snapshots this simulation wrote.
    private(set) var snapshots: [UInt64] = []
    private(set) var commandsApplied = 0
    private(set) var commandsNotJournaled = 0
    private(set) var replays = 0
    /// Records are handed to the journal in batches of this many (as the Writer batches).
    var batchSize = 8

    private var journal: FileJournal?
    var journalForTests: FileJournal? { journal }
    private var pending: [JournalRecord] = []
    private var appendCalls = 0
    private let log = JournalCallbackLog()

    var lastSequence: UInt64 { nextSequence - 1 }

    init(
        directory: String, config: LedgerConfig, ledger: Ledger? = nil, nextSequence: UInt64 = 1, segments: [UInt64] = [],
        clock: Timestamp = JournalTestKit.startClock, mode: FileJournal.Mode = .always, segmentBytes: Int = 64 << 20,
        io: any JournalIO = PosixJournalIO()
    ) throws {
        self.directory = directory
        self.config = config
        self.ledger = ledger ?? Ledger(config: config)
        self.nextSequence = nextSequence
        self.clock = max(clock, self.ledger.lastTimestamp)
        states[nextSequence - 1] = self.ledger
        journal = try FileJournal(
            dataDirectory: directory, directoryID: .test, nextSequence: nextSequence, existingSegments: segments, mode: mode,
            segmentBytes: segmentBytes, io: io)
    }

    /// Continues after a recovery, as a restarted tallyd would.
    convenience init(resuming recovered: Recovery.Recovered, directory: String, config: LedgerConfig, clock: Timestamp) throws {
        try self.init(
            directory: directory, config: config, ledger: recovered.ledger, nextSequence: recovered.nextSequence,
            segments: recovered.segments, clock: clock)
    }

    /// Applies `command` `step` microseconds after the previous one; journals it if it changed state.
    @discardableResult
    func apply(_ command: Command, step: Int64 = 1) -> Applied {
        precondition(step > 0)
        clock += step
        // Usage commands get their day stamped and journaled, as the Writer does.
        let day = command.needsUsageDay ? UsageDay.utc(containing: clock) : nil
        let applied = ledger.apply(command, at: clock, day: day)
        commandsApplied += 1
        if applied.replayed { replays += 1 }
        if applied.changedState {
            let record = JournalRecord(sequence: nextSequence, command: command, timestamp: clock, day: day)
            nextSequence += 1
            pending.append(record)
            journaled.append(record)
            states[record.sequence] = ledger
            if pending.count >= batchSize { flush() }
        } else {
            commandsNotJournaled += 1
        }
        return applied
    }

    /// `count` plain credits (always journaled), for tests that need an exact number of records.
    func credits(_ count: Int, users: Int = 5) {
        for _ in 0..<count {
            let n = Int(nextSequence)
            apply(.credit(Credit(userID: "user-\(n % users)", amount: Int64(1 + n % 97), kind: .grant, memo: "m\(n)")))
        }
    }

    private func flush() {
        guard !pending.isEmpty, let journal else { return }
        let batch = pending
        pending.removeAll()
        appendCalls += 1
        let log = self.log
        let what = "append of records \(batch.first!.sequence)...\(batch.last!.sequence)"
        journal.append(batch) { log.record($0, what) }
    }

    /// Waits until everything applied so far is durable (the journal thread has processed it).
    func waitDurable() throws {
        flush()
        guard let journal else { throw JournalTestFailure("the journal is closed") }
        let box = JournalResultBox()
        journal.append([]) { box.set($0) }
        try box.wait("durability barrier")
        try checkCallbacks()
    }

    private func checkCallbacks() throws {
        let failures = log.failures.withLock { $0 }
        guard failures.isEmpty else { throw JournalTestFailure("journal callbacks failed: \(failures)") }
        let completed = log.completed.load(ordering: .sequentiallyConsistent)
        guard completed == appendCalls else {
            throw JournalTestFailure("\(completed) of \(appendCalls) append callbacks ran")
        }
    }

    func rotate() throws {
        flush()
        journal?.rotate()
        try waitDurable()
    }

    enum SnapshotStage { case rotated, written, pruned }

    /// A snapshot of the durable state, step by step like Snapshotter.take. `crash` is called at
    /// each stage (with everything up to it done and durable), so a test can copy the directory
    /// as a crash right there would leave it.
    @discardableResult
    func snapshot(crash: (SnapshotStage, UInt64) throws -> Void = { _, _ in }) throws -> UInt64 {
        try waitDurable()
        let sequence = lastSequence
        journal?.rotate()
        try waitDurable()
        try crash(.rotated, sequence)
        // writeAndPrune is write, then prune: a crash between the two leaves an extra snapshot.
        try SnapshotFile.write(ledger, sequence: sequence, directoryID: .test, to: JournalTestKit.snapshotPath(directory, sequence))
        try crash(.written, sequence)
        let written = try SnapshotFile.writeAndPrune(ledger, sequence: sequence, directoryID: .test, in: directory)
        try crash(.pruned, sequence)
        if let covered = written.oldestKept { journal?.removeSegments(coveredThrough: covered) }
        try waitDurable()
        snapshots.append(sequence)
        return sequence
    }

    /// A copy of the data directory as it is now, everything applied so far durable.
    func copyDataDirectory(_ label: String) throws -> String {
        if journal != nil { try waitDurable() }
        return try JournalTestKit.copyDirectory(directory, label: label)
    }

    /// Closes the journal (writes and syncs what is queued) and waits for it.
    func close() throws {
        flush()
        guard let journal else { return }
        let box = JournalResultBox()
        journal.close { box.set($0) }
        try box.wait("journal close")
        try checkCallbacks()
        self.journal = nil
    }

    /// Drops the journal without closing it (a crash: whatever was written stays as it is).
    func crash() throws {
        try waitDurable()
        journal = nil
    }
}

/// Random commands: credits and spends over 20 users, some with idempotency keys (so some are
/// replayed, some conflict, some expire), some refused. Deterministic for a seed.
struct JournalCommandMix {
    /// "café" precomposed and decomposed: equal as Swift Strings, different users.
    static let users = (0..<18).map { "user-\($0)" } + ["caf\u{E9}", "cafe\u{301}"]
    static let keys = (0..<12).map { "key-\($0)" }
    /// The idempotency TTL to run the mix with: keys expire (and are purged) within a run.
    static let ttl: Int64 = 400_000

    var rng: JournalTestRNG
    private var retries = KeyedRetries(capacity: 24)
    private var serial = 0

    init(seed: UInt64) { rng = JournalTestRNG(seed: seed) }

    /// The next command and how many microseconds after the previous one it arrives.
    mutating func next(_ ledger: Ledger) -> (command: Command, step: Int64) {
        serial += 1
        let step: Int64
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<80: step = Int64.random(in: 1...20_000, using: &rng)
        case 80..<96: step = Int64.random(in: 20_000...200_000, using: &rng)
        default: step = Int64.random(in: 300_000...900_000, using: &rng)
        }
        let command: Command
        if !retries.isEmpty, rng.chance(10) {
            command = retries.exact(recent: 6, &rng)
        } else if !retries.isEmpty, rng.chance(4) {
            command = retries.conflicting(recent: 24, users: Self.users, &rng)
        } else {
            command = fresh(ledger)
        }
        retries.remember(command)
        return (command, step)
    }

    private mutating func fresh(_ ledger: Ledger) -> Command {
        let user = rng.pick(Self.users)
        let key: String
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<35: key = rng.pick(Self.keys)
        case 35..<45: key = "once-\(serial)"
        default: key = ""
        }
        let reference = rng.chance(20) ? "ref-\(Int.random(in: 0..<4, using: &rng))" : ""
        let memo = rng.chance(10) ? "mémo \(serial) ✓" : ""
        let balance = ledger.balance(of: user).account.available
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<42:
            let kind: CreditKind? = rng.chance(4) ? nil : rng.pick(CreditKind.allCases)  // nil: refused
            let amount = rng.chance(90) ? Int64.random(in: 1...1_000, using: &rng) : Int64.random(in: 1_000...100_000, using: &rng)
            return .credit(Credit(userID: user, amount: amount, kind: kind, reference: reference, memo: memo, idempotencyKey: key))
        case 42..<52:
            return usage(ledger, user: user, key: key)
        case 52..<94:
            let amount: Int64
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<60: amount = Int64.random(in: 1...900, using: &rng)
            case 60..<85: amount = max(balance, 1)  // exactly everything
            default: amount = balance + 1  // one too many: refused
            }
            return .spend(Spend(userID: user, amount: amount, reference: reference, memo: memo, idempotencyKey: key))
        default:
            // Invalid amounts: refused before they touch any state.
            let amount: Int64 = rng.pick([0, -1, -250])
            return rng.chance(50)
                ? .spend(Spend(userID: user, amount: amount, idempotencyKey: key))
                : .credit(Credit(userID: user, amount: amount, kind: .grant, idempotencyKey: key))
        }
    }

    /// Daily-limit commands, so recovery covers the usage state as well.
    private mutating func usage(_ ledger: Ledger, user: String, key: String) -> Command {
        let open = Array(ledger.usage.reservations.keys)
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<40: return .consume(Consume(userID: user, tokens: Int64.random(in: 1...3_000, using: &rng), idempotencyKey: key))
        case 40..<60:
            return .reserve(Reserve(
                userID: user, tokens: Int64.random(in: 1...2_000, using: &rng), ttlMilliseconds: rng.pick([0, 1, 50, 400]),
                idempotencyKey: key))
        case 60..<72:
            return .settle(Settle(
                reservationID: open.isEmpty ? 999 : rng.pick(open), tokens: Int64.random(in: 0...2_500, using: &rng),
                idempotencyKey: key))
        case 72..<80: return .release(Release(reservationID: open.isEmpty ? 999 : rng.pick(open), idempotencyKey: key))
        case 80..<90: return .expireReservations
        default:
            return .changeUsage(rng.pick([
                .tierLimit(tier: "trial", tokens: Int64.random(in: 0...20_000, using: &rng)),
                .userLimit(userID: user, tokens: rng.chance(50) ? nil : 5_000), .userTier(userID: user, tier: "subscribed"),
                .userShadow(userID: user, on: rng.chance(50)), .timeZone("Europe/Berlin"),
            ]))
        }
    }
}

/// A JournalIO that remembers, per file, how many bytes were written and how many were made
/// durable by the last fdatasync, so a test can simulate a power cut: every file falls back
/// to what its last sync covered. (Directory entries are taken as durable: the journal syncs
/// the directory whenever it creates or removes a segment.)
final class PowerCutJournalIO: JournalIO {
    struct FileState: Sendable {
        var written: Int
        var synced: Int
    }

    let real = PosixJournalIO()
    let files = Mutex<[String: FileState]>([:])
    let events = Mutex<[String]>([])

    func createSegment(_ segment: String, in directory: StoreDirectory) throws -> any SegmentFile {
        let path = directory.path(of: segment)
        let existing = (try? JournalTestKit.size(path)) ?? 0
        let file = try real.createSegment(segment, in: directory)
        files.withLock { files in
            if files[path] == nil { files[path] = FileState(written: existing, synced: existing) }
        }
        note("open \(name(path))")
        return Tracked(file, path: path, io: self)
    }

    func removeFile(_ file: String, in directory: StoreDirectory) throws {
        let path = directory.path(of: file)
        try real.removeFile(file, in: directory)
        _ = files.withLock { $0.removeValue(forKey: path) }
        note("remove \(name(path))")
    }

    func syncDirectory(_ directory: StoreDirectory) throws {
        try real.syncDirectory(directory)
    }

    /// Every file cut back to what its last sync made durable.
    func cutPower() throws {
        for (path, state) in files.withLock({ $0 }) where JournalTestKit.exists(path) {
            try JournalTestKit.truncate(path, to: state.synced)
        }
    }

    func note(_ event: String) { events.withLock { $0.append(event) } }

    func name(_ path: String) -> String { String(path.split(separator: "/").last ?? "") }

    final class Tracked: SegmentFile {
        let file: any SegmentFile
        let path: String
        let io: PowerCutJournalIO

        init(_ file: any SegmentFile, path: String, io: PowerCutJournalIO) {
            self.file = file
            self.path = path
            self.io = io
        }

        func append(_ bytes: [UInt8]) throws {
            try file.append(bytes)
            io.files.withLock { $0[path]?.written += bytes.count }
            io.note("append \(io.name(path)) \(bytes.count)")
        }

        func sync() throws {
            try file.sync()
            io.files.withLock { files in
                if let written = files[path]?.written { files[path]?.synced = written }
            }
            io.note("sync \(io.name(path))")
        }

        func close() {
            file.close()
            io.note("close \(io.name(path))")
        }
    }
}

extension TallydSimulation {
    /// Applies random commands until `sequence` is the last journaled record.
    func advance(to sequence: UInt64, _ mix: inout JournalCommandMix) {
        while lastSequence < sequence {
            let (command, step) = mix.next(ledger)
            apply(command, step: step)
        }
    }

    /// Applies `count` random commands (journaled or not).
    func run(_ count: Int, _ mix: inout JournalCommandMix) {
        for _ in 0..<count {
            let (command, step) = mix.next(ledger)
            apply(command, step: step)
        }
    }

    /// The periodic fdatasync of `--fsync interval`.
    func sync() throws {
        try waitDurable()
        journalForTests?.sync()
        try waitDurable()
    }

    /// A closed data directory without snapshots whose segments start exactly at `segments`
    /// (oldest first, the first being 1) and whose last record is `last`: random commands,
    /// `rotate()` before each segment start.
    static func journalOnly(
        _ label: String, segments: [UInt64], last: UInt64, seed: UInt64, config: LedgerConfig
    ) throws -> TallydSimulation {
        precondition(segments.first == 1 && segments.allSatisfy { $0 <= last })
        let sim = try TallydSimulation(directory: try JournalTestKit.makeDirectory(label), config: config)
        var mix = JournalCommandMix(seed: seed)
        for start in segments.dropFirst() {
            sim.advance(to: start - 1, &mix)
            try sim.rotate()
        }
        sim.advance(to: last, &mix)
        try sim.close()
        let onDisk = try JournalTestKit.segmentsOnDisk(sim.directory)
        guard onDisk == segments else { throw JournalTestFailure("fixture has segments \(onDisk), wanted \(segments)") }
        return sim
    }
}

extension DirectoryID {
    /// The id test directories' files name (recovery adopts it: tests write no DIRECTORY_ID).
    static let test = DirectoryID(high: 0x7a11_7a11_7a11_7a11, low: 1)
}
