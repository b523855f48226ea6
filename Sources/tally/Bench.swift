import ArgumentParser
import Foundation
import SwiftProtobuf
import NIOCore
import NIOPosix
import TallyClient
import TallyWire

/// A load generator on the Swift client: N connections, each keeping `depth` calls in flight,
/// for a fixed time; prints calls per second and latency percentiles.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Drive load at tallyd and report throughput and latency.",
        discussion: """
            Each connection sends `--depth` calls, waits for all their answers, and repeats \
            (depth 1 = one call at a time). Latency is per call, from send to answer. \
            Mixes: credit, spend (users pre-credited), balance, mixed (1/3 each).
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Connections.") var connections = 32
    @Option(help: "Calls in flight per connection.") var depth = 1
    @Option(help: "Seconds to run.") var duration = 10.0
    @Option(help: "Distinct users.") var users = 10_000
    @Option(help: "credit, spend, balance or mixed.") var mix: Mix = .credit
    @Flag(help: "Give every mutation a unique idempotency key.") var keys = false
    @Option(help: "Instead of a timed run: credit users bench-0 ... bench-(N-1) once each, pipelined, and exit.")
    var fill: Int?
    @Option(help: "With --fill: how many times to go over the users (transactions = fill x passes).") var passes = 1

    enum Mix: String, ExpressibleByArgument { case credit, spend, balance, mixed }

    func run() async throws {
        let socket = global.resolvedSocket
        if let fill {
            try await self.fill(socket: socket, users: fill)
            return
        }
        if mix == .spend || mix == .mixed {
            // Enough tokens that no spend is refused during the run.
            let client = try await TallyClient.connect(socketPath: socket)
            for start in stride(from: 0, to: users, by: 1_000) {
                let requests = try (start..<min(start + 1_000, users)).map { u in
                    try request(.credit, Tally_V1_CreditRequest.with {
                        $0.userID = "bench-\(u)"; $0.amount = 1_000_000_000; $0.kind = .grant
                    })
                }
                _ = try await client.sendAll(requests)
            }
            await client.close()
        }
        let began = ContinuousClock.now
        let deadline = began + .seconds(duration)
        let results = try await withThrowingTaskGroup(of: (latencies: [Double], failed: Int).self) { group in
            for c in 0..<connections {
                group.addTask {
                    let client = try await TallyClient.connect(socketPath: socket)
                    defer { Task { await client.close() } }
                    var latencies: [Double] = []
                    var failed = 0
                    var n = 0
                    while ContinuousClock.now < deadline {
                        var batch: [Tally_V1_Request] = []
                        for _ in 0..<depth {
                            n += 1
                            batch.append(try self.call(connection: c, n: n))
                        }
                        let sent = ContinuousClock.now
                        let answers = try await client.sendAll(batch)
                        let elapsed = ContinuousClock.now - sent
                        let micros = Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12
                        for answer in answers {
                            latencies.append(micros)
                            if answer.code != .ok { failed += 1 }
                        }
                    }
                    return (latencies, failed)
                }
            }
            var all: [Double] = []
            var failed = 0
            for try await part in group {
                all += part.latencies
                failed += part.failed
            }
            return (all.sorted(), failed)
        }
        let seconds = Double((ContinuousClock.now - began).components.seconds)
            + Double((ContinuousClock.now - began).components.attoseconds) / 1e18
        let calls = results.0.count
        func percentile(_ p: Double) -> String {
            guard calls > 0 else { return "-" }
            return String(format: "%.0f", results.0[min(calls - 1, Int(Double(calls) * p))])
        }
        print(String(
            format: "bench %@: %d connections x depth %d, %.1f s: %d calls, %.0f calls/s, %d not OK; latency us p50 %@ p99 %@ p99.9 %@ max %@",
            mix.rawValue, connections, depth, seconds, calls, Double(calls) / seconds, results.1,
            percentile(0.5), percentile(0.99), percentile(0.999), percentile(1.0)))
    }

    private func fill(socket: String, users: Int) async throws {
        let began = ContinuousClock.now
        let perConnection = (users + connections - 1) / connections
        let failed = try await withThrowingTaskGroup(of: Int.self) { group in
            for c in 0..<connections {
                group.addTask {
                    let client = try await TallyClient.connect(socketPath: socket)
                    defer { Task { await client.close() } }
                    var failed = 0
                    let mine = (c * perConnection)..<min(users, (c + 1) * perConnection)
                    for _ in 0..<passes {
                        for start in stride(from: mine.lowerBound, to: mine.upperBound, by: 1_000) {
                            let requests = try (start..<min(start + 1_000, mine.upperBound)).map { u in
                                try request(.credit, Tally_V1_CreditRequest.with {
                                    $0.userID = "bench-\(u)"; $0.amount = 1; $0.kind = .grant
                                })
                            }
                            failed += try await client.sendAll(requests).filter { $0.code != .ok }.count
                        }
                    }
                    return failed
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = ContinuousClock.now - began
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "fill: %d users x %d passes = %d credits in %.1f s (%.0f/s), %d not OK",
                     users, passes, users * passes, seconds, Double(users * passes) / seconds, failed))
    }

    private func call(connection: Int, n: Int) throws -> Tally_V1_Request {
        let user = "bench-\((connection &* 7919 &+ n &* 104_729) % users)"
        let key = keys ? "bench-\(connection)-\(n)-\(UInt64.random(in: 0...UInt64.max))" : ""
        let kind: Mix = mix == .mixed ? [.credit, .spend, .balance][n % 3] : mix
        switch kind {
        case .credit, .mixed:
            return try request(.credit, Tally_V1_CreditRequest.with {
                $0.userID = user; $0.amount = 1; $0.kind = .grant; $0.idempotencyKey = key
            })
        case .spend:
            return try request(.spend, Tally_V1_SpendRequest.with { $0.userID = user; $0.amount = 1; $0.idempotencyKey = key })
        case .balance:
            return try request(.getBalance, Tally_V1_GetBalanceRequest.with { $0.userID = user })
        }
    }

    private func request(_ method: TallyWire.Method, _ body: some SwiftProtobuf.Message) throws -> Tally_V1_Request {
        try Tally_V1_Request.with {
            $0.protocolVersion = WireProtocol.version
            $0.method = method.rawValue
            $0.payload = try body.serializedData()
        }
    }
}
