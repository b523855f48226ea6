import NIOCore
import Prometheus
import Synchronization
import TallyStore
import TallyWire

/// tallyd's metrics, served as Prometheus text by `--metrics-listen` (docs/operations.md,
/// "Metrics"). Counters and gauges are swift-prometheus's; the per-call histogram is
/// CallDurations. Connections add up a batch's answers before they record them (`CallBatch`),
/// so a pipelined read costs a few nanoseconds a call here.
public final class Meters: Sendable {
    let registry = PrometheusCollectorRegistry()
    let durations: CallDurations
    /// The method label of each method ordinal: "Ledger/Credit"; the last, `unknownMethod`'s,
    /// is "unknown".
    let methodNames: [String]
    /// The ordinal that counts what was answered before a method was known: an unknown method,
    /// an unsupported protocol version, a frame that is not a Request.
    static let unknownMethod = Method.allCases.count
    private let calls = Mutex<[Int: Counter]>([:])
    private let refusals = Mutex<[String: Counter]>([:])
    let shed: Counter
    let queued: Gauge
    /// By role: admin, app, gateway, read-only.
    let connections: [Role: Gauge]
    let accounts: Gauge
    let usersToday: Gauge
    let tokensInCirculation: Gauge
    let residentMemory: Gauge
    let snapshotAge: Gauge
    let recordsSinceSnapshot: Gauge
    let snapshotDuration: DurationHistogram
    let snapshotFailures: Counter
    let recoveryDuration: Gauge
    let journalSyncDuration: DurationHistogram
    let journalBatchRecords: ValueHistogram
    let journalBytes: Counter
    /// 1 while the Writer refuses mutations for that reason (JOURNAL_FAILED, DIRECTORY_LOST...).
    private let mutationRefusals = Mutex<[String: Gauge]>([:])

    /// gRPC's code names, by number.
    static let codeNames = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    public init() {
        methodNames = Method.allCases.map { String($0.rawValue.dropFirst("/tally.v1.".count)) } + ["unknown"]
        durations = CallDurations(methodNames: methodNames)
        shed = registry.makeCounter(name: "tally_shed_total", help: "Mutations refused UNAVAILABLE OVERLOADED because the Writer's queue was full.")
        queued = registry.makeGauge(name: "tally_writer_queue_calls", help: "Calls handed to the Writer and not yet answered.")
        let registry = self.registry
        connections = Dictionary(uniqueKeysWithValues: Role.allCases.map { role in
            (role, registry.makeGauge(name: "tally_connections", labels: [("role", role.rawValue)], help: "Client connections open, by role."))
        })
        accounts = registry.makeGauge(name: "tally_accounts", help: "Accounts in the ledger.")
        usersToday = registry.makeGauge(name: "tally_usage_users_today", help: "Users who counted tokens against a daily limit today (the usage time zone's day).")
        tokensInCirculation = registry.makeGauge(name: "tally_tokens_in_circulation", help: "Tokens held by users, available and committed.")
        residentMemory = registry.makeGauge(name: "tally_resident_memory_bytes", help: "tallyd's resident memory (VmRSS).")
        snapshotAge = registry.makeGauge(name: "tally_snapshot_age_seconds", help: "Since the last snapshot was written (or tallyd started).")
        recordsSinceSnapshot = registry.makeGauge(
            name: "tally_records_since_snapshot", help: "Durable journal records the last snapshot does not hold: recovery replays them.")
        snapshotDuration = registry.makeDurationHistogram(
            name: "tally_snapshot_duration_seconds",
            buckets: [.milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60)],
            help: "From asking for the durable copy to the snapshot file fsynced and renamed.")
        snapshotFailures = registry.makeCounter(name: "tally_snapshot_failures_total", help: "Snapshots that could not be written (the journal keeps everything; retried each interval).")
        recoveryDuration = registry.makeGauge(name: "tally_recovery_duration_seconds", help: "How long start-up's recovery took: snapshot load and journal replay.")
        journalSyncDuration = registry.makeDurationHistogram(
            name: "tally_journal_fsync_duration_seconds",
            buckets: [.microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)],
            help: "One group commit's write and fdatasync of the journal.")
        journalBatchRecords = registry.makeValueHistogram(
            name: "tally_journal_batch_records", buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
            help: "Records made durable by one fdatasync (group commit).")
        journalBytes = registry.makeCounter(name: "tally_journal_bytes_total", help: "Bytes written to the journal.")
        // Served from the start, at 0, so an alert on it has a series before anything fails.
        mutationsRefused(nil, known: ["JOURNAL_FAILED"])
    }

    /// One journal write (FileJournal's `onCommit`, on the journal thread).
    func journalCommitted(_ commit: FileJournal.Commit) {
        journalBytes.increment(by: Int64(commit.bytes))
        guard let duration = commit.syncDuration else { return }
        journalSyncDuration.record(duration)
        journalBatchRecords.record(Int64(commit.records))
    }

    /// Sets `tally_mutations_refused{reason}`: 1 for `reason` (nil: mutations are taken), 0 for the others seen.
    func mutationsRefused(_ reason: String?, known: [String] = []) {
        mutationRefusals.withLock { gauges in
            for name in known + (reason.map { [$0] } ?? []) where gauges[name] == nil {
                gauges[name] = registry.makeGauge(
                    name: "tally_mutations_refused", labels: [("reason", name)],
                    help: "1 while the Writer refuses every mutation for this reason (JOURNAL_FAILED: the journal could not write or fsync).")
            }
            for (name, gauge) in gauges { gauge.set(to: name == reason ? 1 : 0) }
        }
    }

    /// `count` answers of method `ordinal` with gRPC code `code` (and, when refused, `reason`).
    func answered(ordinal: Int, code: Int, reason: String, count: Int) {
        let codeName = code < Self.codeNames.count ? Self.codeNames[code] : String(code)
        let method = methodNames[ordinal]
        counter(in: calls, key: ordinal << 8 | code, "tally_calls_total", [("method", method), ("code", codeName)],
                help: "Calls answered, by method and gRPC status code.").increment(by: Int64(count))
        guard code != 0, !reason.isEmpty else { return }
        counter(in: refusals, key: method + "/" + reason, "tally_refusals_total", [("method", method), ("reason", reason)],
                help: "Calls refused, by method and reason.").increment(by: Int64(count))
    }

    /// The counter for `key`, made the first time it is asked for.
    private func counter<Key: Hashable & Sendable>(
        in counters: borrowing Mutex<[Key: Counter]>, key: Key, _ name: String, _ labels: [(String, String)], help: String
    ) -> Counter {
        counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(name: name, labels: labels, help: help)
            counters[key] = counter
            return counter
        }
    }

    /// The Prometheus text of every metric.
    public func exposition() -> String {
        var text = registry.emitToString()
        durations.render(into: &text)
        return text
    }
}

/// One batch's answers added up by method, code and reason before they reach `Meters`. The
/// common batch (every call one method, all OK) is kept inline: no array is allocated for it.
struct CallBatch {
    private typealias Entry = (ordinal: Int, code: Int, reason: String, count: Int)
    private var first: Entry?
    private var rest: [Entry] = []

    mutating func add(ordinal: Int, code: Int, reason: String) {
        if let entry = first, entry.ordinal == ordinal, entry.code == code, entry.reason == reason {
            first!.count += 1
        } else if first == nil {
            first = (ordinal, code, reason, 1)
        } else if let index = rest.firstIndex(where: { $0.ordinal == ordinal && $0.code == code && $0.reason == reason }) {
            rest[index].count += 1
        } else {
            rest.append((ordinal, code, reason, 1))
        }
    }

    /// Records the batch, every call answered `elapsed` after it was read.
    func record(in meters: Meters, elapsed: TimeAmount) {
        guard let first else { return }
        meters.answered(ordinal: first.ordinal, code: first.code, reason: first.reason, count: first.count)
        guard !rest.isEmpty else {
            meters.durations.record(ordinal: first.ordinal, calls: first.count, elapsed: elapsed)
            return
        }
        var perMethod: [(ordinal: Int, count: Int)] = [(first.ordinal, first.count)]
        for entry in rest {
            meters.answered(ordinal: entry.ordinal, code: entry.code, reason: entry.reason, count: entry.count)
            if let index = perMethod.firstIndex(where: { $0.ordinal == entry.ordinal }) {
                perMethod[index].count += entry.count
            } else {
                perMethod.append((entry.ordinal, entry.count))
            }
        }
        for method in perMethod { meters.durations.record(ordinal: method.ordinal, calls: method.count, elapsed: elapsed) }
    }
}
