import ArgumentParser
import Foundation
import Logging
import TallyWire

@main
struct Tallyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tallyd",
        abstract: "The Tally token ledger daemon.",
        discussion: """
            With no subcommand, serves: keeps token balances in memory, answers clients over a \
            Unix domain socket (length-prefixed protobuf, see docs/protocol.md) and keeps every \
            acknowledged change in a write-ahead journal and snapshots in the data directory. \
            With no flags it serves ./tally.sock from ./tally-data. SIGINT or SIGTERM stops it \
            cleanly; SIGHUP is logged and ignored.
            """,
        version: "tallyd " + TallyVersion.description,
        subcommands: [Serve.self, Verify.self, Restore.self, Reconcile.self, CheckConfig.self, MeasureUsageMemory.self],
        defaultSubcommand: Serve.self)

    /// `tallyd --help` shows the serving flags too: serving is what tallyd is run for, and
    /// ArgumentParser alone would list them only under `tallyd help serve`.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments == ["--help"] || arguments == ["-h"] || arguments == ["help"] {
            print(helpMessage())
            print("\nSERVING: the default subcommand; its flags work with or without `serve`.\n")
            print(helpMessage(for: Serve.self))
            return
        }
        await main(nil)
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// Unbuffered stdout, so start-up lines reach a log file at once.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func complain(_ line: String) {
    FileHandle.standardError.write(Data(("tallyd: " + line + "\n").utf8))
}

func absolute(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
    return FileManager.default.currentDirectoryPath + "/" + relative
}
