import NIOCore
import Synchronization

/// `tally_call_duration_seconds{method}`: a histogram per method, from the moment a call's
/// bytes are read to the moment its answer is written. swift-prometheus's histogram takes one
/// observation per lock (93 ns measured here), more than the 2 % of a 2.5 µs read the metrics
/// may cost; every call answered in one batch has the same duration, so this one takes a
/// batch's calls of a method in one turn of a lock, and renders the Prometheus text itself.
final class CallDurations: Sendable {
    /// Upper bounds, in seconds: from a pipelined read to a second-long stall.
    static let bounds: [Double] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

    private struct Tally {
        /// Per bucket, not cumulative (the last one: above every bound).
        var buckets = [Int](repeating: 0, count: CallDurations.bounds.count + 1)
        var count = 0
        var nanoseconds: Int64 = 0
    }

    private let names: [String]
    /// By method ordinal, under one lock: taken once per batch and method.
    private let tallies: Mutex<[Tally]>

    /// `names[i]`: the method label of method ordinal `i`.
    init(methodNames names: [String]) {
        self.names = names
        tallies = Mutex(names.map { _ in Tally() })
    }

    /// `calls` calls of method `ordinal`, each answered `elapsed` after it was read.
    func record(ordinal: Int, calls: Int, elapsed: TimeAmount) {
        let seconds = Double(elapsed.nanoseconds) / 1e9
        let bucket = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        tallies.withLock { tallies in
            tallies[ordinal].buckets[bucket] += calls
            tallies[ordinal].count += calls
            tallies[ordinal].nanoseconds += elapsed.nanoseconds * Int64(calls)
        }
    }

    /// The calls of method `ordinal` recorded so far.
    func count(ordinal: Int) -> Int { tallies.withLock { $0[ordinal].count } }

    /// Prometheus text (format 0.0.4) for every method that has been called.
    func render(into text: inout String) {
        var wroteHeader = false
        let all = tallies.withLock { $0 }
        for (ordinal, name) in names.enumerated() {
            let tally = all[ordinal]
            guard tally.count > 0 else { continue }
            if !wroteHeader {
                text += "# HELP tally_call_duration_seconds From a call's bytes read to its answer written.\n"
                text += "# TYPE tally_call_duration_seconds histogram\n"
                wroteHeader = true
            }
            var cumulative = 0
            for (index, bound) in Self.bounds.enumerated() {
                cumulative += tally.buckets[index]
                text += "tally_call_duration_seconds_bucket{method=\"\(name)\",le=\"\(bound)\"} \(cumulative)\n"
            }
            text += "tally_call_duration_seconds_bucket{method=\"\(name)\",le=\"+Inf\"} \(tally.count)\n"
            text += "tally_call_duration_seconds_sum{method=\"\(name)\"} \(Double(tally.nanoseconds) / 1e9)\n"
            text += "tally_call_duration_seconds_count{method=\"\(name)\"} \(tally.count)\n"
        }
    }
}
