import ArgumentParser
import Foundation
import Glibc
import Synchronization
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
            Mixes: credit, spend (users pre-credited), balance, mixed (1/3 each); consume (1 token \
            against the daily limit) and reserve-settle (reserve 100, then settle it with 80: two \
            calls a cycle, each counted as a call, with its own latency). It touches only its own \
            users, bench-0 ... bench-(N-1): for consume and reserve-settle each of them gets a \
            daily limit of its own of 10^12 tokens (SetLimits, so the bench must run as an \
            admin, as tallyd's owner does); no tier changes. It refuses a tallyd that holds \
            accounts other than those unless given --i-know-this-is-not-production. SIGINT or \
            SIGTERM ends the run early: the calls in flight are answered, the partial results \
            printed, and it exits 130.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Connections.") var connections = 32
    @Option(help: "Calls in flight per connection.") var depth = 1
    @Option(help: "Seconds to run.") var duration = 10.0
    @Option(help: "Distinct users.") var users = 10_000
    @Option(help: "credit, spend, balance, mixed, consume or reserve-settle.") var mix: Mix = .credit
    @Flag(help: "Give every mutation a unique idempotency key.") var keys = false
    @Option(help: "Instead of a timed run: credit users bench-0 ... bench-(N-1) once each, pipelined, and exit.")
    var fill: Int?
    @Option(help: "With --fill: how many times to go over the users (transactions = fill x passes).") var passes = 1
    @Flag(help: "Run even though tallyd holds accounts that are not the bench's (it still changes only bench-* users).")
    var iKnowThisIsNotProduction = false

    enum Mix: String, ExpressibleByArgument {
        case credit, spend, balance, mixed, consume
        case reserveSettle = "reserve-settle"
    }

    /// The daily limit for the run: high enough that no consume or reservation is refused.
    static let benchDailyLimit: Int64 = 1_000_000_000_000

    func run() async throws {
        let socket = global.resolvedSocket
        try await refuseOtherData(socket: socket, users: fill ?? users)
        if let fill {
            try await self.fill(socket: socket, users: fill)
            return
        }
        if mix == .spend || mix == .mixed {
            // Enough tokens that no spend is refused during the run.
            let client = try await TallyClient.connect(socketPath: socket)
            try await eachUser(client, 0..<users) { user in
                try request(.credit, Tally_V1_CreditRequest.with { $0.userID = user; $0.amount = 1_000_000_000; $0.kind = .grant })
            }
            await client.close()
        }
        if mix == .consume || mix == .reserveSettle {
            try await raiseDailyLimits(socket: socket)
        }
        let began = ContinuousClock.now
        let deadline = began + .seconds(duration)
        let interruption = Interruption()
        let results = try await load(socket: socket, deadline: deadline, interruption: interruption)
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
            percentile(0.5), percentile(0.99), percentile(0.999), percentile(1.0))
            + (interruption.signal.map { " (interrupted by signal \($0) after \(String(format: "%.1f", seconds)) s)" } ?? ""))
        if interruption.signal != nil { Foundation.exit(130) }
    }

    /// Stops unless tallyd's accounts are all the bench's own (or the user said it is fine):
    /// a load generator has no business beside real balances.
    private func refuseOtherData(socket: String, users: Int) async throws {
        guard !iKnowThisIsNotProduction else { return }
        let client = try await global.connect()
        defer { Task { await client.close() } }
        let health: Tally_V1_HealthResponse = try await client.unary(.health, Tally_V1_HealthRequest())
        guard health.accounts > 0 else { return }  // a new tallyd: nothing to look at
        var benchAccounts = 0
        try await eachUser(client, 0..<users) { user in
            try request(.getBalance, Tally_V1_GetBalanceRequest.with { $0.userID = user })
        } answers: { answers in
            for answer in answers where answer.code == .ok {
                let balance = try Tally_V1_GetBalanceResponse(serializedBytes: answer.payload).balance
                if balance.version > 0 || balance.available != 0 || balance.committed != 0 { benchAccounts += 1 }
            }
        }
        let others = health.accounts - Int64(benchAccounts)
        guard others > 0 else { return }
        global.fail(
            "tallyd at \(socket) holds \(counted(others, "account")) not the bench's (bench-0 ... bench-\(users - 1)); "
                + "tally bench is for a tallyd of its own. It changes only bench-* users; to run it here anyway, "
                + "pass --i-know-this-is-not-production", exit: 64)
    }

    /// Every connection's calls until `deadline`: the sorted latencies (one per call, in µs)
    /// and how many were not answered OK.
    private func load(socket: String, deadline: ContinuousClock.Instant, interruption: Interruption) async throws -> ([Double], Int) {
        try await withThrowingTaskGroup(of: (latencies: [Double], failed: Int).self) { group in
            for c in 0..<connections {
                group.addTask {
                    let client = try await TallyClient.connect(socketPath: socket)
                    defer { Task { await client.close() } }
                    var latencies: [Double] = []
                    var failed = 0
                    var n = 0
                    while ContinuousClock.now < deadline, interruption.signal == nil {
                        if self.mix == .reserveSettle {
                            // A cycle: `depth` reserves, then a settle for each one granted.
                            var reserves: [Tally_V1_Request] = []
                            for _ in 0..<depth {
                                n += 1
                                reserves.append(try self.reserve(connection: c, n: n))
                            }
                            let (reserved, reserveMicros) = try await Self.timed { try await client.sendAll(reserves) }
                            var settles: [Tally_V1_Request] = []
                            for answer in reserved {
                                latencies.append(reserveMicros)
                                guard answer.code == .ok else { failed += 1; continue }
                                let id = try Tally_V1_ReserveResponse(serializedBytes: answer.payload).reservation.id
                                n += 1
                                settles.append(try self.settle(reservationID: id, connection: c, n: n))
                            }
                            guard !settles.isEmpty else { continue }
                            let (settled, settleMicros) = try await Self.timed { try await client.sendAll(settles) }
                            for answer in settled {
                                latencies.append(settleMicros)
                                if answer.code != .ok { failed += 1 }
                            }
                            continue
                        }
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
                    let mine = min(users, c * perConnection)..<min(users, (c + 1) * perConnection)  // empty for connections past the users
                    for _ in 0..<passes {
                        try await eachUser(client, mine) { user in
                            try request(.credit, Tally_V1_CreditRequest.with { $0.userID = user; $0.amount = 1; $0.kind = .grant })
                        } answers: { failed += $0.filter { $0.code != .ok }.count }
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

    /// Gives each bench user a daily limit of its own, `benchDailyLimit`: nothing outside the
    /// bench's users changes, so nothing needs setting back, even after a kill.
    private func raiseDailyLimits(socket: String) async throws {
        let client = try await TallyClient.connect(socketPath: socket)
        defer { Task { await client.close() } }
        try await eachUser(client, 0..<users) { user in
            try request(.setLimits, Tally_V1_SetLimitsRequest.with { $0.userLimit = .with { $0.userID = user; $0.limit = Self.benchDailyLimit } })
        } answers: { answers in
            if let refused = answers.first(where: { $0.code != .ok }) {
                throw TallyError(code: refused.code, reason: refused.reason, message: refused.message, details: refused.details)
            }
        }
    }

    /// One call for each bench user numbered in `users`, pipelined 1,000 at a time; `answers`
    /// gets each thousand's answers in user order.
    private func eachUser(
        _ client: TallyClient, _ users: Range<Int>, _ call: (String) throws -> Tally_V1_Request,
        answers: ([Tally_V1_Response]) throws -> Void = { _ in }
    ) async throws {
        for start in stride(from: users.lowerBound, to: users.upperBound, by: 1_000) {
            let requests = try (start..<min(start + 1_000, users.upperBound)).map { try call("bench-\($0)") }
            try answers(try await client.sendAll(requests))
        }
    }

    /// Runs `body` and returns its result with the time it took, in microseconds.
    private static func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
        let sent = ContinuousClock.now
        let result = try await body()
        let elapsed = ContinuousClock.now - sent
        return (result, Double(elapsed.components.seconds) * 1e6 + Double(elapsed.components.attoseconds) / 1e12)
    }

    private func user(connection: Int, n: Int) -> String {
        "bench-\((connection &* 7919 &+ n &* 104_729) % users)"
    }

    private func key(connection: Int, n: Int) -> String {
        keys ? "bench-\(connection)-\(n)-\(UInt64.random(in: 0...UInt64.max))" : ""
    }

    private func reserve(connection: Int, n: Int) throws -> Tally_V1_Request {
        try request(.reserve, Tally_V1_ReserveRequest.with {
            $0.userID = user(connection: connection, n: n); $0.tokens = 100; $0.idempotencyKey = key(connection: connection, n: n)
        })
    }

    private func settle(reservationID: UInt64, connection: Int, n: Int) throws -> Tally_V1_Request {
        try request(.settle, Tally_V1_SettleRequest.with {
            $0.reservationID = reservationID; $0.tokens = 80; $0.idempotencyKey = key(connection: connection, n: n)
        })
    }

    private func call(connection: Int, n: Int) throws -> Tally_V1_Request {
        let user = user(connection: connection, n: n)
        let key = key(connection: connection, n: n)
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
        case .consume:
            return try request(.consume, Tally_V1_ConsumeRequest.with { $0.userID = user; $0.tokens = 1; $0.idempotencyKey = key })
        case .reserveSettle:
            return try reserve(connection: connection, n: n)
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

/// SIGINT or SIGTERM during a run: the connections stop after the calls in flight, and the
/// partial results are printed. Dispatch sources, so the signal is taken as an event, not by
/// a handler that can do nothing safe.
final class Interruption: @unchecked Sendable {
    private let received = Atomic<Int32>(0)  // 0: none yet
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM] {
            Glibc.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                _ = self?.received.compareExchange(expected: 0, desired: number, ordering: .relaxed)
            }
            source.resume()
            sources.append(source)
        }
    }

    var signal: Int32? {
        let number = received.load(ordering: .relaxed)
        return number == 0 ? nil : number
    }
}
