import ArgumentParser
import Dispatch
import Foundation
import Logging
import TallyLedger
import TallyServer

@main
struct Tallyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tallyd",
        abstract: "The Tally token ledger daemon.",
        discussion: """
            Keeps token balances in memory, answers clients over a Unix domain socket \
            (length-prefixed protobuf, see docs/protocol.md) and keeps the state in a data \
            directory. With no flags it serves ./tally.sock from ./tally-data. \
            SIGINT or SIGTERM stops it cleanly, writing a final snapshot.
            """)

    @Option(name: .customLong("data-dir"), help: "Data directory (created if missing).")
    var dataDirectory = "./tally-data"

    @Option(name: .customLong("socket"), help: "Unix socket path clients connect to.")
    var socketPath = "./tally.sock"

    @Option(help: "Socket file permissions, octal: 660 lets tallyd's user and group connect.")
    var socketMode = "660"

    @Option(help: "Seconds between snapshots while there were changes; 0 writes one only at shutdown.")
    var snapshotInterval: Int64 = 5

    @Option(help: "Largest frame accepted, in bytes (the 4-byte length prefix not counted).")
    var maxFrameBytes = ServerConfig().maxFrameBytes

    @Option(help: "Unanswered calls per connection before tallyd stops reading from it.")
    var maxCallsInFlight = ServerConfig().maxCallsInFlight

    @Option(help: "Hours an idempotency key is remembered.")
    var idempotencyTtlHours: Int64 = 24

    @Option(help: "I/O threads serving connections (the Writer has its own).")
    var ioThreads = 1

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        guard snapshotInterval >= 0 else { throw ValidationError("--snapshot-interval must be 0 or more") }
        guard maxFrameBytes >= 1_024 else { throw ValidationError("--max-frame-bytes must be at least 1024") }
        guard maxCallsInFlight >= 1 else { throw ValidationError("--max-calls-in-flight must be at least 1") }
        guard idempotencyTtlHours >= 1 else { throw ValidationError("--idempotency-ttl-hours must be at least 1") }
        guard ioThreads >= 1 else { throw ValidationError("--io-threads must be at least 1") }
        guard let mode = UInt32(socketMode, radix: 8), mode <= 0o777, mode & 0o600 == 0o600 else {
            throw ValidationError("--socket-mode must be octal like 660 and let the owner read and write")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "tallyd")
        let config = ServerConfig(
            socketPath: socketPath, dataDirectory: dataDirectory, snapshotIntervalSeconds: snapshotInterval,
            maxFrameBytes: maxFrameBytes, maxCallsInFlight: maxCallsInFlight,
            socketMode: UInt32(socketMode, radix: 8) ?? 0o660,
            ledger: LedgerConfig(idempotencyTTL: idempotencyTtlHours * Duration.microsecondsPerHour),
            ioThreads: ioThreads)

        let stop = SignalWaiter(signals: [SIGINT, SIGTERM])
        let server: TallyServer
        do {
            server = try await TallyServer.start(config: config, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("tallyd: cannot start: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let s = server.startup
        say("""
            tallyd serving \(absolute(config.socketPath))
              data directory \(absolute(config.dataDirectory))
              \(s.loadedSnapshot ? "loaded snapshot" : "no snapshot yet, starting empty"): \
            \(s.accounts) accounts, \(s.transactions) transactions in \(String(format: "%.1f", s.milliseconds)) ms
              snapshots every \(snapshotInterval) s while changed; stop with Ctrl-C (SIGINT) or SIGTERM
            """)
        let signal = await stop.wait()
        say("tallyd: signal \(signal), shutting down")
        do {
            try await server.shutdown()
        } catch {
            FileHandle.standardError.write(Data("tallyd: shutdown failed: \(error)\n".utf8))
            throw ExitCode(1)
        }
        say("tallyd: stopped")
    }

    private func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        return FileManager.default.currentDirectoryPath + "/" + relative
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Waits for the first of some signals, delivered through Dispatch instead of a C handler.
final class SignalWaiter: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private let received = AsyncStream<Int32>.makeStream()

    init(signals: [Int32]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            let continuation = received.continuation
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
    }

    func wait() async -> Int32 {
        for await number in received.stream { return number }
        return 0
    }
}

/// Unbuffered stdout, so start-up lines reach a log file at once.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
