import Foundation
import TallyWire

/// What `tally top` shows, worked out from two Admin/Metrics answers a refresh apart: rates are
/// the counters' growth over the time between them by tallyd's own uptime, percentiles come
/// from the histogram buckets' growth. With no earlier answer, from tallyd's start.
struct TopView {
    struct MethodRow {
        var method: String
        var perSecond: Double
        var total: Double
        var p50: Double?
        var p99: Double?
    }

    struct RefusalRow {
        var method: String
        var reason: String
        var perSecond: Double
        var total: Double
    }

    var uptimeSeconds: Double
    var seconds: Double
    var methods: [MethodRow] = []
    var refusals: [RefusalRow] = []
    var callsPerSecond = 0.0
    var shedPerSecond = 0.0
    var queue = 0.0
    var connections: [(role: String, count: Double)] = []
    var fsyncsPerSecond = 0.0
    var recordsPerFsync: Double?
    var journalBytesPerSecond = 0.0
    var fsyncP99: Double?
    var snapshotAge = 0.0
    var memory = 0.0
    var accounts = 0.0
    var usersToday = 0.0
    var tokensInCirculation = 0.0
    var mutationsRefused: [String] = []
    var topUsers: [Tally_V1_UserTokens]?

    init(previous: Tally_V1_MetricsResponse?, current: Tally_V1_MetricsResponse, topUsers: [Tally_V1_UserTokens]?) {
        let now = Samples(current), before = previous.map(Samples.init) ?? Samples(nil)
        uptimeSeconds = Double(current.uptimeMs) / 1000
        seconds = max(0.001, Double(current.uptimeMs - (previous?.uptimeMs ?? 0)) / 1000)
        let seconds = self.seconds
        func rate(_ name: String, _ labels: [String: String] = [:]) -> Double {
            (now.sum(name, labels) - before.sum(name, labels)) / seconds
        }
        for method in now.labelValues("tally_calls_total", "method") {
            let total = now.sum("tally_calls_total", ["method": method])
            let buckets = now.buckets("tally_call_duration_seconds", method: method, minus: before)
            methods.append(MethodRow(
                method: method, perSecond: rate("tally_calls_total", ["method": method]), total: total,
                p50: Self.quantile(0.5, buckets), p99: Self.quantile(0.99, buckets)))
        }
        methods.sort { ($0.perSecond, $0.total) > ($1.perSecond, $1.total) }
        callsPerSecond = rate("tally_calls_total")
        for sample in now.all("tally_refusals_total") {
            let labels = sample.labels
            let method = labels["method"] ?? "", reason = labels["reason"] ?? ""
            refusals.append(RefusalRow(
                method: method, reason: reason, perSecond: rate("tally_refusals_total", ["method": method, "reason": reason]), total: sample.value))
        }
        refusals.sort { ($0.perSecond, $0.total) > ($1.perSecond, $1.total) }
        shedPerSecond = rate("tally_shed_total")
        queue = now.sum("tally_writer_queue_calls")
        connections = now.all("tally_connections").map { ($0.labels["role"] ?? "", $0.value) }.filter { $0.count > 0 }
        fsyncsPerSecond = rate("tally_journal_fsync_duration_seconds_count")
        let fsyncs = now.sum("tally_journal_fsync_duration_seconds_count") - before.sum("tally_journal_fsync_duration_seconds_count")
        let records = now.sum("tally_journal_batch_records_sum") - before.sum("tally_journal_batch_records_sum")
        recordsPerFsync = fsyncs > 0 ? records / fsyncs : nil
        journalBytesPerSecond = rate("tally_journal_bytes_total")
        fsyncP99 = Self.quantile(0.99, now.buckets("tally_journal_fsync_duration_seconds", method: nil, minus: before))
        snapshotAge = now.sum("tally_snapshot_age_seconds")
        memory = now.sum("tally_resident_memory_bytes")
        accounts = now.sum("tally_accounts")
        usersToday = now.sum("tally_usage_users_today")
        tokensInCirculation = now.sum("tally_tokens_in_circulation")
        mutationsRefused = now.all("tally_mutations_refused").filter { $0.value > 0 }.compactMap { $0.labels["reason"] }
        self.topUsers = topUsers
    }

    /// The `q` quantile of a histogram's (upper bound, cumulative count) buckets, interpolated
    /// within its bucket as Prometheus' histogram_quantile does; nil without observations.
    static func quantile(_ q: Double, _ buckets: [(bound: Double, count: Double)]) -> Double? {
        guard let total = buckets.last?.count, total > 0 else { return nil }
        let rank = q * total
        var lower = 0.0, below = 0.0
        for bucket in buckets {
            if bucket.count >= rank {
                if bucket.bound.isInfinite { return lower }  // past the last bound: at least that
                let inBucket = bucket.count - below
                return inBucket > 0 ? lower + (bucket.bound - lower) * (rank - below) / inBucket : bucket.bound
            }
            lower = bucket.bound.isInfinite ? lower : bucket.bound
            below = bucket.count
        }
        return lower
    }

    /// The view as lines of text, 80 columns wide.
    func lines(socket: String) -> [String] {
        var lines: [String] = []
        lines.append("tallyd at \(socket), up \(Self.duration(uptimeSeconds)); rates over the last \(Self.fixed(seconds, 1)) s")
        let roles = connections.map { "\($0.role) \(Int($0.count))" }.joined(separator: ", ")
        lines.append("calls \(Self.fixed(callsPerSecond, 1))/s   queue \(Int(queue))   shed \(Self.fixed(shedPerSecond, 1))/s   connections \(roles.isEmpty ? "none" : roles)")
        lines.append("mutations " + (mutationsRefused.isEmpty ? "taken" : "REFUSED: " + mutationsRefused.joined(separator: ", ")))
        lines.append("")
        lines.append(Self.pad("method", 28) + Self.pad("calls/s", 10, right: true) + Self.pad("total", 12, right: true)
            + Self.pad("p50", 11, right: true) + Self.pad("p99", 11, right: true))
        for row in methods {
            lines.append(Self.pad(row.method, 28) + Self.pad(Self.fixed(row.perSecond, 1), 10, right: true)
                + Self.pad(String(Int(row.total)), 12, right: true)
                + Self.pad(Self.latency(row.p50), 11, right: true) + Self.pad(Self.latency(row.p99), 11, right: true))
        }
        lines.append("")
        lines.append("refusals" + (refusals.isEmpty ? ": none" : ""))
        for row in refusals {
            lines.append("  " + Self.pad("\(row.method) \(row.reason)", 48) + Self.pad(Self.fixed(row.perSecond, 1) + "/s", 12, right: true)
                + Self.pad(String(Int(row.total)), 12, right: true))
        }
        lines.append("")
        let perFsync = recordsPerFsync.map { Self.fixed($0, 1) } ?? "-"
        lines.append("journal   fsyncs \(Self.fixed(fsyncsPerSecond, 1))/s   records/fsync \(perFsync)   \(Self.bytes(journalBytesPerSecond))/s   fsync p99 \(Self.latency(fsyncP99))")
        lines.append("snapshot  age \(Self.duration(snapshotAge))   memory \(Self.bytes(memory))")
        lines.append("ledger    accounts \(Int(accounts))   tokens in circulation \(Int(tokensInCirculation))   users today \(Int(usersToday))")
        if let topUsers {
            lines.append("")
            lines.append("top users today" + (topUsers.isEmpty ? ": none" : ""))
            for user in topUsers { lines.append("  " + Self.pad(user.userID, 40) + Self.pad(String(user.tokens), 14, right: true)) }
        } else {
            lines.append("top users today: an admin's view (tally top runs as another role)")
        }
        return lines
    }

    /// The same figures as one JSON object (`--json`: one a refresh).
    func json() -> [String: Any] {
        func number(_ value: Double?) -> Any { value.map { $0 as Any } ?? NSNull() }
        return [
            "uptime_seconds": uptimeSeconds, "seconds": seconds, "calls_per_second": callsPerSecond, "shed_per_second": shedPerSecond,
            "queue": queue, "connections": Dictionary(connections.map { ($0.role, $0.count) }) { a, _ in a },
            "mutations_refused": mutationsRefused,
            "methods": methods.map {
                ["method": $0.method, "calls_per_second": $0.perSecond, "total": $0.total, "p50_seconds": number($0.p50), "p99_seconds": number($0.p99)]
            },
            "refusals": refusals.map { ["method": $0.method, "reason": $0.reason, "per_second": $0.perSecond, "total": $0.total] },
            "fsyncs_per_second": fsyncsPerSecond, "records_per_fsync": number(recordsPerFsync),
            "journal_bytes_per_second": journalBytesPerSecond, "fsync_p99_seconds": number(fsyncP99),
            "snapshot_age_seconds": snapshotAge, "resident_memory_bytes": memory, "accounts": accounts, "users_today": usersToday,
            "tokens_in_circulation": tokensInCirculation,
            "top_users": topUsers.map { $0.map { ["user_id": $0.userID, "tokens": $0.tokens] as [String: Any] } } as Any? ?? NSNull(),
        ]
    }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }

    static func latency(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        if seconds < 0.001 { return fixed(seconds * 1e6, 0) + " µs" }
        if seconds < 1 { return fixed(seconds * 1e3, seconds < 0.01 ? 2 : 1) + " ms" }
        return fixed(seconds, 2) + " s"
    }

    static func bytes(_ value: Double) -> String {
        if value >= Double(1 << 30) { return fixed(value / Double(1 << 30), 1) + " GiB" }
        if value >= Double(1 << 20) { return fixed(value / Double(1 << 20), 1) + " MiB" }
        if value >= Double(1 << 10) { return fixed(value / Double(1 << 10), 1) + " KiB" }
        return fixed(value, 0) + " B"
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return fixed(seconds, 1) + " s" }
        let whole = Int(seconds)
        if whole < 3600 { return "\(whole / 60)m\(String(format: "%02d", whole % 60))s" }
        return "\(whole / 3600)h\(String(format: "%02d", whole / 60 % 60))m"
    }

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let count = text.count
        guard count < width else { return right ? " " + text : text + " " }
        let space = String(repeating: " ", count: width - count)
        return right ? space + text : text + space
    }
}

/// One Admin/Metrics answer's samples, looked up by name and labels.
struct Samples {
    struct Sample {
        var labels: [String: String]
        var value: Double
    }

    private var byName: [String: [Sample]] = [:]

    init(_ response: Tally_V1_MetricsResponse?) {
        for sample in response?.samples ?? [] {
            let labels = Dictionary(sample.labels.map { ($0.name, $0.value) }) { a, _ in a }
            byName[sample.name, default: []].append(Sample(labels: labels, value: sample.value))
        }
    }

    func all(_ name: String) -> [Sample] { byName[name] ?? [] }

    /// The sum of `name`'s samples whose labels include `labels`.
    func sum(_ name: String, _ labels: [String: String] = [:]) -> Double {
        all(name).filter { sample in labels.allSatisfy { sample.labels[$0.key] == $0.value } }.reduce(0) { $0 + $1.value }
    }

    /// The distinct values of `label` among `name`'s samples, in first-seen order.
    func labelValues(_ name: String, _ label: String) -> [String] {
        var seen = Set<String>(), values: [String] = []
        for sample in all(name) {
            if let value = sample.labels[label], seen.insert(value).inserted { values.append(value) }
        }
        return values
    }

    /// A histogram's cumulative buckets (of one method, or the unlabelled one), less `earlier`'s.
    func buckets(_ histogram: String, method: String?, minus earlier: Samples) -> [(bound: Double, count: Double)] {
        func of(_ samples: Samples) -> [Double: Double] {
            var buckets: [Double: Double] = [:]
            for sample in samples.all(histogram + "_bucket") where sample.labels["method"] == method {
                guard let le = sample.labels["le"], let bound = le == "+Inf" ? .infinity : Double(le) else { continue }
                buckets[bound] = sample.value
            }
            return buckets
        }
        let before = of(earlier)
        return of(self).map { (bound: $0.key, count: $0.value - (before[$0.key] ?? 0)) }.sorted { $0.bound < $1.bound }
    }
}
