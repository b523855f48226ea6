import NIOCore
import Prometheus
import Synchronization
import TallyWire

/// tallyd's metrics, served as Prometheus text by `--metrics-listen` (docs/operations.md,
/// "Metrics"). Counters and gauges are swift-prometheus's; the per-call histogram is
/// CallDurations. Connections add up a batch's answers before they record them (`CallBatch`),
/// so a pipelined read costs a few nanoseconds a call here.
public final class Meters: Sendable {
    let registry = PrometheusCollectorRegistry()
    let durations: CallDurations
    /// The method label of each method ordinal: "Ledger/Credit".
    let methodNames: [String]
    private let calls = Mutex<[Int: Counter]>([:])
    private let refusals = Mutex<[String: Counter]>([:])
    let shed: Counter
    let queued: Gauge
    let connections: Gauge
    let accounts: Gauge
    let residentMemory: Gauge
    let snapshotAge: Gauge

    /// gRPC's code names, by number.
    static let codeNames = [
        "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
        "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
        "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
    ]

    public init() {
        methodNames = Method.allCases.map { String($0.rawValue.dropFirst("/tally.v1.".count)) }
        durations = CallDurations(methodNames: methodNames)
        shed = registry.makeCounter(name: "tally_shed_total", help: "Mutations refused UNAVAILABLE OVERLOADED because the Writer's queue was full.")
        queued = registry.makeGauge(name: "tally_writer_queue_calls", help: "Calls handed to the Writer and not yet answered.")
        connections = registry.makeGauge(name: "tally_connections", help: "Client connections open.")
        accounts = registry.makeGauge(name: "tally_accounts", help: "Accounts in the ledger.")
        residentMemory = registry.makeGauge(name: "tally_resident_memory_bytes", help: "tallyd's resident memory (VmRSS).")
        snapshotAge = registry.makeGauge(name: "tally_snapshot_age_seconds", help: "Since the last snapshot was written (or tallyd started).")
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

/// One batch's answers added up by method, code and reason before they reach `Meters`.
struct CallBatch {
    private var entries: [(ordinal: Int, code: Int, reason: String, count: Int)] = []

    mutating func add(ordinal: Int, code: Int, reason: String) {
        if let index = entries.firstIndex(where: { $0.ordinal == ordinal && $0.code == code && $0.reason == reason }) {
            entries[index].count += 1
        } else {
            entries.append((ordinal, code, reason, 1))
        }
    }

    /// Records the batch, every call answered `elapsed` after it was read.
    func record(in meters: Meters, elapsed: TimeAmount) {
        var perMethod: [(ordinal: Int, count: Int)] = []
        for entry in entries {
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
