import Foundation
import Logging
import Synchronization
import TallyClient
import TallyLedger
import TallyServer
import TallyStore
import TallyTestSupport
import TallyWire
import Testing

/// Several nodes on one command log (docs/decisions.md, "Several hosts share one command
/// log"), in this process, over a log in memory instead of PostgreSQL: whatever each node went
/// through (a restart from its final snapshot, one from an older snapshot as after kill -9,
/// the log unreachable, every node restarted at once), at one position every node holds the
/// same state. The load mixes every kind of command, with idempotency keys retried on other
/// nodes and expiring, reservations and purchases left to expire, memberships that lapse and
/// predictions settled, so that any state a snapshot does not carry back exactly, or any
/// answer that depends on the node, shows as unequal digests.
/// (Tests/SeveralHosts runs the same property against PostgreSQL with real processes.)
@Suite(.serialized) struct SeveralNodesTests {
    static let seed: UInt64 = 0x5E7E_4A11_0000_0001
    /// Calls each of a round's six clients has answered (refusals included).
    static let callsPerWorker = 200

    @Test func everyNodeHoldsTheSameStateThroughRestartsAndOutages() async throws {
        let seed = ProcessInfo.processInfo.environment["SEVERAL_NODES_SEED"].flatMap { UInt64($0) } ?? Self.seed
        let log = SharedCommandLog(seed: seed)
        let nodes = try (0..<3).map { _ in try Scratch() }
        defer { for node in nodes { node.remove() } }
        var servers = try await startEach(nodes, on: log)
        let admin = try await TallyClient.connect(socketPath: nodes[0].socket)
        _ = try await admin.savePackage(.with {
            $0.id = "pack"
            $0.name = "Pack"
            $0.tokens = 100
            $0.priceCents = 199
            $0.currency = "USD"
            $0.active = true
        })
        _ = try await admin.setPrice(action: "post", tier: "trial", cost: 3)
        _ = try await admin.setPrice(action: "post", tier: "subscribed", cost: 1)
        await admin.close()

        let rounds: [(String, Disturbance)] = [
            ("steady load", .none), ("node b restarted", .restart(1)), ("node c restarted from an older snapshot", .crash(2)),
            ("the log down for a moment", .logDown), ("every node restarted", .restartAll), ("node a restarted from an older snapshot", .crash(0)),
        ]
        for (round, (what, disturbance)) in rounds.enumerated() {
            let roundSeed = seed &+ UInt64(round) &* 1_000
            let answeredSoFar = Counter()
            async let loads: Int = withTaskGroup(of: Int.self) { group in
                for (index, node) in nodes.enumerated() {
                    for worker in 0..<2 {
                        let socket = node.socket
                        let workerSeed = roundSeed &+ UInt64(index * 2 + worker)
                        group.addTask { await Self.load(socket, seed: workerSeed, calls: Self.callsPerWorker, answered: answeredSoFar) }
                    }
                }
                return await group.reduce(0, +)
            }
            // The disturbance comes a third of the way through the round's calls.
            while answeredSoFar.value < Self.callsPerWorker * 2 {
                try await Task.sleep(for: .milliseconds(5))
            }
            switch disturbance {
            case .none: break
            case .restart(let index):
                try await servers[index].shutdown()
                servers[index] = try await start(nodes[index], on: log)
            case .crash(let index):
                try await servers[index].shutdown()
                try Self.dropNewestSnapshot(nodes[index].data)
                servers[index] = try await start(nodes[index], on: log)
            case .logDown:
                log.setDown(true)
                try await Task.sleep(for: .milliseconds(300))
                log.setDown(false)
            case .restartAll:
                for index in servers.indices { try await servers[index].shutdown() }
                for index in servers.indices { servers[index] = try await start(nodes[index], on: log) }
            }
            let answered = await loads
            #expect(answered == Self.callsPerWorker * 6, "seed \(seed), round \(round) (\(what)): \(answered) calls answered, workers gave up")
            // Reservations and purchases left behind expire within a second: their ticks too.
            try await Task.sleep(for: .milliseconds(1_200))
            try await Self.expectAgreement(nodes, log: log, context: "seed \(seed), round \(round) (\(what))")
            print("several nodes, seed \(seed), round \(round) (\(what)): \(answered) calls answered, the nodes agree at \(log.head)")
        }
        for server in servers { try await server.shutdown() }
    }

    /// A node that stops while its command log has not said whether it took a call (an INSERT
    /// whose connection broke) answers that call `OUTCOME_UNKNOWN`, not "nothing applied": the
    /// log did take it here, and every node applies it, the stopped one once it starts again.
    @Test func aCallTheLogMayHoldWhenItsNodeStopsIsAnsweredOutcomeUnknown() async throws {
        let log = SharedCommandLog()
        let nodes = try (0..<2).map { _ in try Scratch() }
        defer { for node in nodes { node.remove() } }
        var servers = try await startEach(nodes, on: log)
        let client = try await TallyClient.connect(socketPath: nodes[0].socket)
        _ = try await client.credit(credit("ann", 10))

        log.hold()
        let unknown = Task { try await client.credit(credit("ann", 5)) }
        // And the CLI's: exit 75 with the key to retry with, as for a call whose answer never came.
        let errors = nodes[0].root + "/cli.err"
        let cli = try ChildProcess(
            try ClientDeadlineTests.tallyPath(), ["credit", "bob", "1", "--timeout-ms", "0", "--socket", nodes[0].socket], stderr: .file(errors))
        try await Task.sleep(for: .milliseconds(300))
        // Stopping waits a few seconds for the log, then answers what is still out.
        try await servers[0].shutdown()
        let error = await #expect(throws: TallyError.self) { _ = try await unknown.value }
        #expect(error?.code == .unavailable && error?.reason == "OUTCOME_UNKNOWN", "\(String(describing: error))")
        #expect(error?.message.contains("may or may not have been applied") == true, "\(String(describing: error))")
        await client.close()
        cli.waitUntilExit()
        let said = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        #expect(cli.terminationStatus == 75 && said.contains("OUTCOME_UNKNOWN") && said.contains("retry with --key cli-"), "\(said)")

        // They had committed: every node applies them.
        try log.release(committing: true)
        servers[0] = try await start(nodes[0], on: log)
        for node in nodes {
            let reader = try await TallyClient.connect(socketPath: node.socket)
            var balance = try await reader.getBalance(userID: "ann")
            for _ in 0..<100 where balance.available != 15 {
                try await Task.sleep(for: .milliseconds(20))
                balance = try await reader.getBalance(userID: "ann")
            }
            #expect(balance.available == 15)
            #expect(try await reader.getBalance(userID: "bob").available == 1)
            await reader.close()
        }
        try await Self.expectAgreement(nodes, log: log, context: "after the held call committed")
        for server in servers { try await server.shutdown() }
    }

    /// A node that applied rows its log then lost (a failover to a standby that lacked them)
    /// does not build on them once the log holds other rows at those positions: each row's
    /// chain hash names the history before it, so the node stops at the first row of the new
    /// history, saying why and how to seed it, while a node that never applied the lost rows
    /// goes on.
    @Test func aNodeThatAppliedRowsTheLogLostStopsInsteadOfDiverging() async throws {
        let log = SharedCommandLog()
        let nodes = try (0..<2).map { _ in try Scratch() }
        defer { for node in nodes { node.remove() } }
        let servers = try await startEach(nodes, on: log)
        var client = try await TallyClient.connect(socketPath: nodes[0].socket)
        for _ in 0..<3 { _ = try await client.credit(credit("ann", 10)) }
        await client.close()
        try await Self.expectAgreement(nodes, log: log, context: "before the failover")
        let kept = log.head
        try await servers[0].shutdown()

        // Only b applies these; then the log loses them.
        client = try await TallyClient.connect(socketPath: nodes[1].socket)
        for _ in 0..<3 { _ = try await client.credit(credit("bob", 5)) }
        await client.close()
        try await servers[1].shutdown()
        log.failOver(keepingThrough: kept)

        let a = try await start(nodes[0], on: log)
        client = try await TallyClient.connect(socketPath: nodes[0].socket)
        for _ in 0..<5 { _ = try await client.credit(credit("cy", 1)) }
        #expect(try await client.getBalance(userID: "bob").available == 0)
        await client.close()
        #expect(log.head > kept + 3)

        let refused = await #expect(throws: (any Error).self) { _ = try await start(nodes[1], on: log) }
        let said = "\(String(describing: refused))"
        #expect(said.contains("position \(kept + 4) does not continue the history this node applied") && said.contains("tallyd restore"), "\(said)")
        try await a.shutdown()
    }

    /// Read your writes across hosts: a call with `min_position` waits on a node until it has
    /// applied the position another node's answer carried, within its deadline; `tally
    /// --min-position` sends it. A tallyd with its own journal refuses a position past its last.
    @Test func minPositionWaitsUntilTheNodeAppliedIt() async throws {
        let log = SharedCommandLog()
        let nodes = try (0..<2).map { _ in try Scratch() }
        defer { for node in nodes { node.remove() } }
        let servers = try await startEach(nodes, on: log)
        let reader = try await TallyClient.connect(socketPath: nodes[1].socket)
        let health: Tally_V1_HealthResponse = try await reader.unary(.health, Tally_V1_HealthRequest())
        let bNode = health.logNode
        log.setLagging(bNode, true)
        let writer = try await TallyClient.connect(socketPath: nodes[0].socket)
        _ = try await writer.credit(credit("ann", 10))
        let position = writer.position
        #expect(position > 0)
        await writer.close()

        #expect(try await reader.getBalance(userID: "ann").available == 0, "b has not applied it yet")
        reader.minPosition = position
        let late = await #expect(throws: TallyError.self) { _ = try await reader.getBalance(userID: "ann", timeoutMs: 200) }
        #expect(late?.reason == "DEADLINE_EXCEEDED", "\(String(describing: late))")
        let waiting = Task { try await reader.getBalance(userID: "ann") }
        try await Task.sleep(for: .milliseconds(100))
        log.setLagging(bNode, false)
        #expect(try await waiting.value.available == 10)
        await reader.close()

        let cli = try ClientDeadlineTests.tally(["balance", "ann", "--min-position", "\(position)", "--socket", nodes[1].socket])
        #expect(cli.status == 0 && cli.out.hasPrefix("ann: 10 available"), "\(cli)")
        let past = try ClientDeadlineTests.tally(
            ["balance", "ann", "--min-position", "\(position + 100)", "--timeout-ms", "200", "--socket", nodes[1].socket])
        #expect(past.status == 75 && past.err.contains("DEADLINE_EXCEEDED"), "\(past)")
        for server in servers { try await server.shutdown() }

        let own = try Scratch()
        defer { own.remove() }
        let single = try await own.start()
        let ahead = try ClientDeadlineTests.tally(["balance", "ann", "--min-position", "5", "--socket", own.socket])
        #expect(ahead.status == 65 && ahead.err.contains("POSITION_AHEAD"), "\(ahead)")
        try await single.shutdown()
    }

    /// Calls answered so far in a round, by every client.
    final class Counter: Sendable {
        private let count = Mutex(0)
        var value: Int { count.withLock { $0 } }
        func add() { count.withLock { $0 += 1 } }
    }

    enum Disturbance {
        case none, restart(Int), crash(Int), logDown, restartAll
    }

    /// A node on `log` in each of `nodes`, started one after the other.
    func startEach(_ nodes: [Scratch], on log: SharedCommandLog) async throws -> [TallyServer] {
        var servers: [TallyServer] = []
        for node in nodes { servers.append(try await start(node, on: log)) }
        return servers
    }

    func start(_ node: Scratch, on log: SharedCommandLog) async throws -> TallyServer {
        var logger = Logger(label: "tallyd-test")
        logger.logLevel = .critical
        let config = node.config {
            $0.commandLog = "memory:"
            $0.snapshots = SnapshotPolicy(intervalSeconds: 1, journalBytes: 0)
            // Keys and purchases expire within the test, reservations are swept often.
            $0.ledger = LedgerConfig(idempotencyTTL: 800_000, purchaseTimeout: 700_000)
            $0.reservationSweepMilliseconds = 50
        }
        return try await TallyServer.start(config: config, logger: logger) { _, name, snapshot, _ in
            log.open(node: name, snapshotSequence: snapshot)
        }
    }

    /// What kill -9 leaves behind, for a node of several hosts: a snapshot older than its last
    /// (the newest is removed when there are two), from which it replays more of the log.
    static func dropNewestSnapshot(_ data: String) throws {
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: data)
            .filter { $0.hasPrefix("snapshot-") && $0.hasSuffix(".tally") }.sorted()
        if snapshots.count >= 2, let newest = snapshots.last {
            try FileManager.default.removeItem(atPath: data + "/" + newest)
        }
    }

    /// Every node applied the log through its head, with one digest there, and no invariant broken.
    static func expectAgreement(_ nodes: [Scratch], log: SharedCommandLog, context: String) async throws {
        let clients = try await nodes.asyncMap { try await TallyClient.connect(socketPath: $0.socket) }
        defer { Task { for client in clients { await client.close() } } }
        let request = Tally_V1_HealthRequest.with {
            $0.digest = true
            $0.checkInvariants = true
        }
        var healths: [Tally_V1_HealthResponse] = []
        for _ in 0..<200 {
            let head = log.head
            healths = []
            for client in clients { healths.append(try await client.unary(.health, request)) }
            // A tick proposed meanwhile moves the head: ask again until all stand at one.
            if healths.allSatisfy({ $0.digestSequence == head }), log.head == head { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let positions = healths.map(\.digestSequence)
        try #require(Set(positions).count == 1 && positions[0] == log.head, "\(context): positions \(positions), log head \(log.head)")
        #expect(Set(healths.map(\.stateDigest)).count == 1, "\(context): at \(positions[0]) the digests differ: \(healths.map(\.stateDigest))")
        for (index, health) in healths.enumerated() {
            #expect(health.invariantsChecked && health.invariantViolations.isEmpty, "\(context): node \(index): \(health.invariantViolations)")
            #expect(health.acceptingMutations, "\(context): node \(index) refuses mutations: \(health.refusalReason)")
        }
    }

    /// A client's random calls on a few shared users until `calls` were answered (refusals
    /// included), each also counted in `answered`; returns how many were. Connection losses (a
    /// node restarting) reconnect. Gives up after two minutes, so that a hang fails the test.
    static func load(_ socket: String, seed: UInt64, calls: Int, answered shared: Counter) async -> Int {
        var random = SplitMix64(seed: seed)
        var client: TallyClient?
        var reservations: [UInt64] = []
        var pending: [String] = []
        var answered = 0
        var n = 0
        let giveUp = ContinuousClock.now + .seconds(120)
        while answered < calls, ContinuousClock.now < giveUp {
            guard let connected = client else {
                client = try? await TallyClient.connect(socketPath: socket)
                if client == nil { try? await Task.sleep(for: .milliseconds(20)) }
                continue
            }
            n += 1
            let user = "u\(random.next() % 6)"
            // Keys from a small pool, shared by every client: replays, conflicts, expiries.
            let key = random.chance(30) ? "k\(random.next() % 24)" : ""
            let amount = Int64(random.next() % 40) + 1
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            do {
                switch random.next() % 16 {
                case 0, 1, 2:
                    var request = credit(user, amount, key: key)
                    request.metadata = metadata(&random, n)
                    _ = try await connected.credit(request)
                case 3, 4, 5:
                    var request = spend(user, amount, key: key)
                    request.metadata = metadata(&random, n)
                    _ = try await connected.spend(request)
                case 6, 7:
                    _ = try await connected.consume(userID: user, tokens: amount, idempotencyKey: key)
                case 8:
                    let reserved = try await connected.reserve(userID: user, tokens: amount, ttlMs: UInt32(random.next() % 400 + 50))
                    reservations.append(reserved.reservation.id)
                case 9:
                    guard let id = reservations.popLast() else { continue }
                    if random.chance(50) {
                        _ = try await connected.settle(reservationID: id, tokens: amount / 2)
                    } else {
                        _ = try await connected.release(reservationID: id)
                    }
                case 10:
                    let payment = "p\(seed)-\(n)"
                    _ = try await connected.startPurchase(userID: user, packageID: "pack", paymentID: payment)
                    pending.append(payment)
                case 11:
                    // Completed, failed, or left pending to fail by itself.
                    guard let payment = pending.popLast() else { continue }
                    if random.chance(60) {
                        _ = try await connected.completePurchase(paymentID: payment)
                    } else if random.chance(50) {
                        _ = try await connected.failPurchase(paymentID: payment, reason: "card declined")
                    }
                case 12:
                    _ = try await connected.commit(
                        userID: user, predictionID: "q\(seed / 1_000)-\(random.next() % 3)", position: random.chance(50) ? .yes : .no,
                        stake: amount / 4 + 1, oddsMicros: 2_000_000, idempotencyKey: key)
                case 13:
                    if random.chance(20) {
                        let prediction = "q\(seed / 1_000)-\(random.next() % 3)"
                        if random.chance(50) {
                            _ = try await connected.resolve(predictionID: prediction, winning: .yes)
                        } else {
                            _ = try await connected.void(predictionID: prediction)
                        }
                    } else {
                        let tier = random.pick(["trial", "subscribed", ""])
                        // Some lapse within the round.
                        let expires = random.chance(50) ? now + Int64(random.next() % 500_000) : 0
                        _ = try await connected.setMembership(userID: user, tier: tier.isEmpty ? nil : tier, expiresAtUs: expires)
                    }
                case 14:
                    _ = try await connected.spendAction(.with {
                        $0.userID = user
                        $0.action = "post"
                        $0.idempotencyKey = key
                    })
                default:
                    _ = try await connected.getBalance(userID: user)
                }
                answered += 1
                shared.add()
            } catch is TallyError {
                answered += 1  // refused, or UNAVAILABLE while the log is down or the node stops
                shared.add()
            } catch {
                await connected.close()
                client = nil
            }
        }
        await client?.close()
        return answered
    }
}

/// None, or several entries (dictionaries of several entries have an order of their own).
private func metadata(_ random: inout SplitMix64, _ n: Int) -> [String: String] {
    random.chance(50) ? [:] : Dictionary(uniqueKeysWithValues: (0..<Int(random.next() % 6 + 2)).map { ("key-\($0)", "value-\(n)-\($0)") })
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var mapped: [T] = []
        for element in self { mapped.append(try await transform(element)) }
        return mapped
    }
}
