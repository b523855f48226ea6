import ArgumentParser
import Foundation
import Glibc
import SwiftProtobuf
import TallyClient
import TallyWire

@main
struct Tally: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally",
        abstract: "Talk to a running tallyd.",
        discussion: "The socket is --socket, else $TALLY_SOCKET, else ./tally.sock.",
        version: "tally " + TallyVersion.description,
        subcommands: [BalanceCommand.self, CreditCommand.self, SpendCommand.self, HistoryCommand.self, TransactionCommand.self,
            PackagesCommand.self, PackageCommand.self,
            PurchaseCommand.self, PurchasesCommand.self, CommitCommand.self, CancelCommand.self, ResolveCommand.self, VoidCommand.self,
            CommitmentsCommand.self, AuditCommand.self, ReconcileCommand.self, MembershipCommand.self, PricesCommand.self, PriceCommand.self, UsageCommand.self,
            LimitsCommand.self, SnapshotCommand.self,
            BackupCommand.self, HealthCommand.self, StatsCommand.self, TopCommand.self, WatchCommand.self, ChangesCommand.self, BenchCommand.self])

    /// Refuses arguments that are not valid UTF-8 before parsing (ArgumentBytes), then runs.
    static func main() async {
        if let bad = ArgumentBytes.firstInvalid() {
            FileHandle.standardError.write(
                "tally: argument \(bad.index) ('\(bad.shown)') is not valid UTF-8; nothing was sent\n".data(using: .utf8)!)
            Glibc.exit(64)
        }
        let given = Array(CommandLine.arguments.dropFirst())
        if let unknown = Suggestion.unknownSubcommand(in: given, root: Tally.self) {
            FileHandle.standardError.write(Data("tally: \(unknown)\n".utf8))
            Glibc.exit(64)
        }
        await main(NegativeNumbers.asPositionals(given) { (try? Tally.parseAsRoot($0)) != nil })
    }
}

struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("socket"), help: "tallyd's socket (default: $TALLY_SOCKET or ./tally.sock).")
    var socketPath: String?

    @Flag(help: "Print the answer as JSON (proto3 JSON mapping), for scripts.")
    var json = false

    @Option(help: "Deadline for the call in milliseconds; 0 for none.")
    var timeoutMs: UInt32 = 5_000

    @Option(help: "Several hosts: answer once this node has applied the command log through this position (the position another node's answer carried); 0 for at once.")
    var minPosition: UInt64 = 0

    var resolvedSocket: String {
        socketPath ?? ProcessInfo.processInfo.environment["TALLY_SOCKET"] ?? "./tally.sock"
    }

    /// The idempotency key a mutation is sent with: the one given, else a new one, so that a
    /// call whose answer never came can be retried without applying twice.
    func idempotencyKey(_ given: String) -> String {
        given.isEmpty ? "cli-" + UUID().uuidString.lowercased() : given
    }

    /// Connects, runs `body`, and turns failures into a message on stderr and a non-zero exit.
    /// `retryKey` is a mutation's idempotency key, named when its outcome is unknown.
    func run<T: SwiftProtobuf.Message>(
        _ body: (TallyClient) async throws -> T, retryKey: String? = nil, human: (T) -> String
    ) async throws {
        let client = try await connect()
        defer { Task { await client.close() } }
        do {
            let answer = try await body(client)
            print(json ? try JSONAnswer.string(answer) : human(answer))
        } catch var error as TallyError {
            // No answer within the deadline, or a node of several hosts that stopped before its
            // log told it: the outcome is unknown, and the key makes a retry safe.
            let unknown = error.reason == "CLIENT_TIMEOUT" || error.reason == "OUTCOME_UNKNOWN"
            if unknown, let retryKey { error.details["retry_key"] = retryKey }
            let status = unknown ? 75 : ExitStatus.of(error.code)  // 75, EX_TEMPFAIL: try again
            let retry = unknown ? retryKey.map { " (retry with --key \($0))" } ?? "" : ""
            try fail(error, human: "\(error.code.name) \(error.reason): \(inCLIWords(error.message))\(retry)", exit: status)
        }
    }

    /// Connects, or exits 69 (EX_UNAVAILABLE) saying why in words (JSON with --json).
    func connect() async throws -> TallyClient {
        do {
            let client = try await TallyClient.connect(socketPath: resolvedSocket)
            client.minPosition = minPosition
            return client
        } catch {
            let message = "cannot connect to tallyd at \(resolvedSocket): " + ConnectFailure.explain(error)
            let failure = TallyError(code: .unavailable, reason: "CANNOT_CONNECT", message: message, details: ["socket": resolvedSocket])
            try fail(failure, human: message, exit: 69)
        }
    }

    /// Reports `error` on stderr and exits: with --json as one JSON object alone on the line
    /// (code, reason, message, details), so that a script can parse stderr as it is; else `human`.
    func fail(_ error: TallyError, human: String, exit status: Int32) throws -> Never {
        guard json else { fail(human, exit: status) }
        let object: [String: Any] = ["code": error.code.name, "reason": error.reason, "message": error.message, "details": error.details]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        fail(String(decoding: data, as: UTF8.self), exit: status, prefixed: false)
    }

    /// Writes `message` to stderr, after "tally: " unless it is JSON (`prefixed: false`), and exits.
    func fail(_ message: String, exit status: Int32, prefixed: Bool = true) -> Never {
        FileHandle.standardError.write(Data(((prefixed ? "tally: " : "") + message + "\n").utf8))
        Foundation.exit(status)
    }
}

func describe(_ b: Tally_V1_Balance) -> String {
    "\(b.available) available, \(b.committed) committed (earned \(b.totalEarned), spent \(b.totalSpent), version \(b.version))"
}

struct BalanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "balance", abstract: "Show a user's balance.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String

    func run() async throws {
        try await global.run({ client in
            let balance = try await client.getBalance(userID: user, timeoutMs: global.timeoutMs)
            return Tally_V1_GetBalanceResponse.with { $0.balance = balance }
        }, human: { "\($0.balance.userID): \(describe($0.balance))" })
    }
}

enum KindArgument: String, ExpressibleByArgument, CaseIterable {
    case purchase, grant, refund, adjustment

    var wire: Tally_V1_CreditKind {
        switch self {
        case .purchase: .purchase
        case .grant: .grant
        case .refund: .refund
        case .adjustment: .adjustment
        }
    }
}

struct CreditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "credit", abstract: "Add tokens to a user's balance.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Argument(help: "Tokens to add (a positive whole number).") var amount: Int64
    @Option(help: "What kind of credit this is.") var kind: KindArgument = .grant
    @Option(help: "Reference (an order or payment id).") var ref = ""
    @Option(help: "Free-text memo.") var memo = ""
    @Option(help: "Idempotency key: repeating the call with it answers the first result again.") var key = ""
    @Option(help: "Metadata kept on the transaction, KEY=VALUE (repeat for more).") var meta: [String] = []

    func run() async throws {
        let key = global.idempotencyKey(self.key)
        let metadata = try parseMetadata(meta)
        let request = Tally_V1_CreditRequest.with {
            $0.userID = user
            $0.amount = amount
            $0.kind = kind.wire
            $0.reference = ref
            $0.memo = memo
            $0.idempotencyKey = key
            $0.metadata = metadata
        }
        try await global.run({ try await $0.credit(request, timeoutMs: global.timeoutMs) }, retryKey: key) { r in
            "credited \(r.transaction.amount) to \(r.balance.userID) (\(kind.rawValue), transaction \(r.transaction.id)"
                + (r.replayed ? ", replayed" : "") + "): \(describe(r.balance))"
        }
    }
}

struct SpendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spend", abstract: "Take tokens from a user's balance: an amount, or an action's price for the user's tier.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "User id.") var user: String
    @Argument(help: "Tokens to spend (a positive whole number); leave out with --action.") var amount: Int64?
    @Option(help: "Spend this action's price for the user's tier (see `tally prices`).") var action: String?
    @Option(help: "Reference (what the tokens paid for).") var ref = ""
    @Option(help: "Free-text memo.") var memo = ""
    @Option(help: "Idempotency key: repeating the call with it answers the first result again.") var key = ""
    @Option(help: "Metadata kept on the transaction, KEY=VALUE (repeat for more).") var meta: [String] = []

    func validate() throws {
        if (amount == nil) == (action == nil) { throw ValidationError("give an amount or --action NAME (one of them)") }
    }

    func run() async throws {
        let key = global.idempotencyKey(self.key)
        let metadata = try parseMetadata(meta)
        let human = { (r: Tally_V1_SpendResponse) in
            "spent \(r.transaction.amount) from \(r.balance.userID)"
                + (r.transaction.action.isEmpty ? "" : " for \(r.transaction.action) at the \(r.transaction.tier) price")
                + " (transaction \(r.transaction.id)" + (r.replayed ? ", replayed" : "") + "): \(describe(r.balance))"
        }
        if let action {
            let request = Tally_V1_SpendActionRequest.with {
                $0.userID = user
                $0.action = action
                $0.reference = ref
                $0.memo = memo
                $0.idempotencyKey = key
            $0.metadata = metadata
            }
            try await global.run({ try await $0.spendAction(request, timeoutMs: global.timeoutMs) }, retryKey: key, human: human)
            return
        }
        let request = Tally_V1_SpendRequest.with {
            $0.userID = user
            $0.amount = amount ?? 0
            $0.reference = ref
            $0.memo = memo
            $0.idempotencyKey = key
            $0.metadata = metadata
        }
        try await global.run({ try await $0.spend(request, timeoutMs: global.timeoutMs) }, retryKey: key, human: human)
    }
}

struct SnapshotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot", abstract: "Make tallyd write a snapshot into its data directory now.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await global.run({ client in
            try await client.unary(.snapshot, Tally_V1_SnapshotRequest(), timeoutMs: global.timeoutMs) as Tally_V1_SnapshotResponse
        }) { r in "snapshot \(r.path): \(counted(r.accounts, "account")) through journal record \(r.journalSequence), \(r.bytes) bytes" }
    }
}

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "How tallyd is doing; exits 1 if it refuses mutations or an invariant fails.")

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Also check every ledger invariant (reads the whole ledger, off the Writer's thread).")
    var checkInvariants = false
    @Flag(help: "Also give the state digest: SHA-256 of the durable state, equal wherever the state is (reads the whole ledger).")
    var digest = false

    func run() async throws {
        var healthy = true
        try await global.run({ client in
            let report = try await client.unary(
                .health, Tally_V1_HealthRequest.with {
                    $0.checkInvariants = checkInvariants
                    $0.digest = digest
                },
                timeoutMs: max(global.timeoutMs, checkInvariants || digest ? 600_000 : 0)) as Tally_V1_HealthResponse
            healthy = report.acceptingMutations && report.invariantViolations.isEmpty
            return report
        }) { r in
            var lines = [
                "mutations: " + (r.acceptingMutations ? "accepted" : "refused (\(r.refusalReason))"),
                "uptime \(r.uptimeMs / 1000) s, \(r.connections) connections, \(r.queuedCalls) calls queued (sheds at \(r.queuedCallsLimit))",
                "\(r.accounts) accounts, \(r.transactions) transactions, durable through journal record \(r.durableSequence)",
                "last snapshot through record \(r.snapshotSequence), \(r.snapshotAgeMs / 1000) s ago",
                r.logNode.isEmpty
                    ? "journal: \(counted(r.journalSegments, "segment")), \(r.journalBytes) bytes on disk; \(r.auditEntries) audit entries in memory"
                    : "command log: node \(r.logNode), applied through \(r.durableSequence) of \(r.logHead) (\(r.logHead - r.durableSequence) behind); \(r.auditEntries) audit entries in memory",
            ]
            if !r.usageRefusals.isEmpty {
                lines.append("usage refusals since start: " + r.usageRefusals.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
            if !r.stateDigest.isEmpty {
                lines.append("state digest (SHA-256) through journal record \(r.digestSequence): \(r.stateDigest)")
            }
            if r.invariantsChecked {
                lines.append(r.invariantViolations.isEmpty
                    ? "invariants: all hold" : "invariants VIOLATED:\n  " + r.invariantViolations.joined(separator: "\n  "))
            }
            return lines.joined(separator: "\n")
        }
        if !healthy { throw ExitCode(1) }
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Make tallyd write a consistent snapshot to PATH while it keeps serving.",
        discussion: "PATH is on tallyd's host and must not exist yet. Restore with `tallyd restore PATH --data-dir DIR`.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Where to write the backup (made absolute against the current directory).") var path: String

    func run() async throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        try await global.run({ client in
            try await client.unary(
                .backup, Tally_V1_BackupRequest.with { $0.path = absolute }, timeoutMs: max(global.timeoutMs, 600_000))
                as Tally_V1_BackupResponse
        }) { r in "backup \(r.path): \(r.accounts) accounts through journal record \(r.journalSequence), \(r.bytes) bytes" }
    }
}

/// `--meta KEY=VALUE` options as a metadata map.
func parseMetadata(_ pairs: [String]) throws -> [String: String] {
    var metadata: [String: String] = [:]
    for pair in pairs {
        guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
            throw ValidationError("--meta wants KEY=VALUE, got '\(pair)'")
        }
        metadata[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
    }
    return metadata
}
