import Foundation
import Glibc
import Logging
import NIOPosix
import TallyLedger
import TallyStore
import TallyClient
@testable import TallyServer
import TallyWire
import Testing

/// `--metrics-listen`: a real tallyd scraped over HTTP; the counters move by exactly the calls
/// made, the histograms count every call, refusals carry their reason.
@Suite struct MetricsTests {
    /// GET `path` over HTTP/1.0 on a Unix socket: the status line and the body.
    static func get(_ socketPath: String, _ path: String = "/metrics", method: String = "GET") throws -> (status: String, body: String) {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ChildProcessError("socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            for (index, byte) in socketPath.utf8.enumerated() { sunPath[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw ChildProcessError("connect \(socketPath): \(errno)") }
        let request = Array("\(method) \(path) HTTP/1.0\r\nHost: tallyd\r\n\r\n".utf8)
        guard write(fd, request, request.count) == request.count else { throw ChildProcessError("write: \(errno)") }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw ChildProcessError("no HTTP response: \(text)") }
        let statusLine = text[..<split.lowerBound].components(separatedBy: "\r\n").first ?? ""
        return (statusLine, String(text[split.upperBound...]))
    }

    /// The value of the sample named exactly `series` ("name{labels}"), if present.
    static func value(_ series: String, in body: String) -> Double? {
        for line in body.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test func countersAndHistogramsMoveByExactlyTheCallsMade() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let metricsPath = scratch.root + "/metrics.sock"
        let server = try await scratch.start { $0.metricsListen = "unix:" + metricsPath }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        for _ in 0..<3 { _ = try await client.credit(credit("m", 10)) }
        for _ in 0..<2 { _ = try await client.getBalance(userID: "m") }
        await #expect(throws: TallyError.self) { _ = try await client.spend(spend("m", 1_000)) }
        _ = try await client.listTransactions(.with { $0.userID = "m" })
        // Answered before a method is known, and a read's argument refused before the Writer.
        _ = try await client.send(try envelope("/tally.v1.Ledger/Steal", spend("m", 1), callID: 900))
        _ = try await client.send(try envelope(Method.getBalance.rawValue, Tally_V1_GetBalanceRequest(), callID: 901))
        _ = try await client.consume(userID: "u1", tokens: 5)
        _ = try await client.consume(userID: "u2", tokens: 7)

        let (status, body) = try Self.get(metricsPath)
        #expect(status == "HTTP/1.0 200 OK", "\(status)")
        #expect(Self.value(#"tally_calls_total{method="Ledger/Credit",code="OK"}"#, in: body) == 3, "\(body)")
        #expect(Self.value(#"tally_calls_total{method="Ledger/GetBalance",code="OK"}"#, in: body) == 2)
        #expect(Self.value(#"tally_calls_total{method="Ledger/Spend",code="FAILED_PRECONDITION"}"#, in: body) == 1)
        #expect(Self.value(#"tally_refusals_total{method="Ledger/Spend",reason="INSUFFICIENT_TOKENS"}"#, in: body) == 1)
        #expect(Self.value(#"tally_calls_total{method="Ledger/ListTransactions",code="OK"}"#, in: body) == 1, "reads off the Writer count too")
        #expect(Self.value(#"tally_call_duration_seconds_count{method="Ledger/Credit"}"#, in: body) == 3)
        #expect(Self.value(#"tally_call_duration_seconds_bucket{method="Ledger/Credit",le="+Inf"}"#, in: body) == 3)
        #expect(Self.value(#"tally_call_duration_seconds_count{method="Ledger/Spend"}"#, in: body) == 1)
        #expect((Self.value(#"tally_call_duration_seconds_sum{method="Ledger/Credit"}"#, in: body) ?? 0) > 0)
        #expect(Self.value(#"tally_calls_total{method="unknown",code="UNIMPLEMENTED"}"#, in: body) == 1)
        #expect(Self.value(#"tally_refusals_total{method="unknown",reason="UNKNOWN_METHOD"}"#, in: body) == 1)
        #expect(Self.value(#"tally_refusals_total{method="Ledger/GetBalance",reason="USER_ID_EMPTY"}"#, in: body) == 1)
        #expect(Self.value("tally_accounts", in: body) == 1)
        #expect(Self.value("tally_tokens_in_circulation", in: body) == 30)
        #expect(Self.value("tally_usage_users_today", in: body) == 2)
        #expect(Self.value(#"tally_connections{role="admin"}"#, in: body) == 1, "the test runs as tallyd's own uid: an admin")
        #expect(Self.value(#"tally_connections{role="app"}"#, in: body) == 0)
        // Three credits, the refused spend (audited) and two consumes, each its own group commit or fewer.
        let fsyncs = Self.value("tally_journal_fsync_duration_seconds_count", in: body) ?? 0
        #expect(fsyncs >= 1 && fsyncs <= 6, "\(body)")
        #expect(Self.value("tally_journal_batch_records_count", in: body) == fsyncs)
        #expect(Self.value("tally_journal_batch_records_sum", in: body) == 6)
        #expect((Self.value("tally_journal_bytes_total", in: body) ?? 0) > 100)
        #expect(Self.value("tally_recovery_duration_seconds", in: body) != nil)
        #expect(Self.value("tally_snapshot_duration_seconds_count", in: body) == 0)
        #expect((Self.value("tally_resident_memory_bytes", in: body) ?? 0) > 1_000_000)
        #expect(body.contains("# TYPE tally_call_duration_seconds histogram"))

        // Buckets are cumulative and end at the count (two balances and the refused one).
        let buckets = body.split(separator: "\n").filter { $0.hasPrefix(#"tally_call_duration_seconds_bucket{method="Ledger/GetBalance""#) }
            .compactMap { Double($0.split(separator: " ").last ?? "") }
        #expect(buckets.count == CallDurations.bounds.count + 1 && buckets == buckets.sorted() && buckets.last == 3, "\(buckets)")

        // A second scrape sees the calls between.
        _ = try await client.credit(credit("m", 1))
        let _: Tally_V1_SnapshotResponse = try await client.unary(.snapshot, Tally_V1_SnapshotRequest())
        let second = try Self.get(metricsPath).body
        #expect(Self.value(#"tally_calls_total{method="Ledger/Credit",code="OK"}"#, in: second) == 4)
        #expect(Self.value("tally_tokens_in_circulation", in: second) == 31)
        #expect(Self.value("tally_snapshot_duration_seconds_count", in: second) == 1)
        #expect(try Self.get(metricsPath, "/").status == "HTTP/1.0 404 Not Found")
        #expect(try Self.get(metricsPath, method: "POST").status == "HTTP/1.0 405 Method Not Allowed")
        await client.close()
        try await server.shutdown()
        #expect(!FileManager.default.fileExists(atPath: metricsPath), "the metrics socket is removed at stop")
    }

    @Test(arguments: [
        ("unix:/run/tally/metrics.sock", true), ("127.0.0.1:9464", true), ("[::1]:9464", true), ("localhost:9464", true),
        ("0.0.0.0:9464", false), ("10.0.0.1:9464", false), ("127.0.0.1:0", false), ("127.0.0.1", false), ("unix:", false),
    ])
    func onlyLoopbackOrUnixAddressesAreAccepted(text: String, accepted: Bool) {
        #expect((MetricsListener.Address(text) != nil) == accepted, "\(text)")
    }

    /// A metrics address set through the API, not the flags, is still checked: start-up stops
    /// with the reason rather than serving no metrics without a word.
    @Test func aBadMetricsAddressStopsStartUp() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        await #expect(throws: ConfigFile.Invalid.self) {
            _ = try await scratch.start { $0.metricsListen = "0.0.0.0:9464" }
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.socket), "nothing is left listening")
        let server = try await scratch.start()  // and the data directory is free again
        try await server.shutdown()
    }

    /// Every metric the dashboard, the alert rules and operations.md's table name is one a real
    /// tallyd serves: none of them can drift from the code. The dashboard is JSON with queries.
    @Test func theDashboardAlertsAndDocsNameOnlyMetricsTallydServes() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let metricsPath = scratch.root + "/metrics.sock"
        let server = try await scratch.start { $0.metricsListen = "unix:" + metricsPath }
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        _ = try await client.credit(credit("d", 10))
        await #expect(throws: TallyError.self) { _ = try await client.spend(spend("d", 1_000)) }
        _ = try await client.consume(userID: "d", tokens: 1)
        let _: Tally_V1_SnapshotResponse = try await client.unary(.snapshot, Tally_V1_SnapshotRequest())
        let served = Set(try Self.get(metricsPath).body.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            String(line.prefix { $0 != "{" && $0 != " " })
        })
        let pattern = try NSRegularExpression(pattern: #"\btally_[a-z_]+"#)
        func names(_ text: String) -> Set<String> {
            Set(pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range, in: text)!]) })
        }
        let dashboardText = try EndpointDocsTests.read("docs/deploy/grafana-dashboard.json")
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(dashboardText.utf8)) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let queries = panels.flatMap { ($0["targets"] as? [[String: Any]]) ?? [] }.compactMap { $0["expr"] as? String }
        #expect(queries.count >= 20, "\(queries.count) queries")
        let alerts = try EndpointDocsTests.read("docs/deploy/tally-alerts.yml")
        let operationsMd = try EndpointDocsTests.read("docs/operations.md")
        let metricsSection = try #require(operationsMd.range(of: "### Metrics"))
        let operations = operationsMd[metricsSection.lowerBound...].components(separatedBy: "### Logs").first ?? ""
        for (file, text) in [("grafana-dashboard.json", queries.joined(separator: "\n")), ("tally-alerts.yml", alerts), ("operations.md", operations)] {
            let named = names(text)
            #expect(!named.isEmpty)
            for name in named.sorted() {
                // A histogram is served as NAME_bucket, NAME_sum and NAME_count.
                let servedAs = [name, name + "_bucket", name + "_count"]
                #expect(servedAs.contains { served.contains($0) }, "\(file) names \(name), which tallyd does not serve")
            }
        }
        await client.close()
        try await server.shutdown()
    }

    /// A journal whose every write fails, like a disk that has died.
    final class DeadJournal: Journal {
        func append(_ records: [JournalRecord], onDurable: @escaping @Sendable (Result<Void, any Error>) -> Void) {
            onDurable(.failure(StoreError("injected: the disk is gone")))
        }
        func rotate() {}
        func removeSegments(coveredThrough sequence: UInt64) {}
        func sync() {}
        var bytesAppended: Int { 0 }
        var recordsAppended: Int { 0 }
        var syncs: Int { 0 }
        func close(_ done: @escaping @Sendable (Result<Void, any Error>) -> Void) { done(.success(())) }
        func reopen(nextSequence: UInt64, existingSegments: [UInt64], _ done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
            done(.failure(StoreError("injected: the disk is gone")))
        }
    }

    /// When the journal failed and the durable state cannot be rebuilt, there is no durable copy
    /// to read the ledger's figures from: the scrape still answers, with the refusal in it.
    @Test func aScrapeAnswersWhenNoDurableStateCanBeRead() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let logger = Logger(label: "metrics-test")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let threads = SnapshotThreads(logger: logger)
        let journal = DeadJournal()
        // The default rebuild throws: reads are refused too once the journal failed.
        let writer = Writer(ledger: Ledger(), nextSequence: 1, loop: group.next(), journal: journal, snapshots: SnapshotPolicy(), logger: logger)
        try FileManager.default.createDirectory(atPath: scratch.data, withIntermediateDirectories: true)
        let snapshotter = Snapshotter(
            writer: writer, journal: journal, directory: try StoreDirectory(opening: scratch.data), directoryID: DirectoryID.random(),
            policy: SnapshotPolicy(intervalSeconds: 0, journalBytes: 0), threads: threads, lastSequence: 0, logger: logger)
        let scrape = MetricsScrape(meters: Meters(), writer: writer, snapshotter: snapshotter, connections: Connections(), queue: WriterQueue(limit: 10))
        let call = WriterCall(callID: 1, method: .credit, deadline: nil, operation: .apply(.credit(Credit(userID: "d", amount: 1, kind: .grant))))
        let answers = await withCheckedContinuation { continuation in
            writer.submit([call]) { answers, _ in continuation.resume(returning: answers) }
        }
        guard case .unavailable(let reason, _) = answers.first?.result else { Issue.record("\(answers)"); return }
        #expect(reason == "JOURNAL_FAILED")
        // The Writer is rebuilding now, then refuses reads (its rebuild throws): no durable copy either way.
        let text = try await scrape.text().get()
        #expect(Self.value(#"tally_mutations_refused{reason="JOURNAL_FAILED"}"#, in: text) == 1, "\(text)")
        try await threads.shutdownGracefully()
        try await group.shutdownGracefully()
    }
}
