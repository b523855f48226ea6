import Foundation
import Glibc
import Testing

/// The test support that starts tallyd and the CLI: a child never inherits the test process's
/// descriptors (one that kept `swift test`'s output pipe open hung CI), and its exit status and
/// signal are reported as waitpid gives them.
@Suite struct ChildProcessTests {
    @Test func aChildInheritsOnlyStdinStdoutAndStderr() throws {
        var leaked: [Int32] = [0, 0]
        #expect(pipe(&leaked) == 0)  // no O_CLOEXEC: posix_spawn alone would pass these on
        defer { close(leaked[0]); close(leaked[1]) }
        let run = ChildProcess.run("/bin/ls", ["/proc/self/fd"])
        #expect(run.status == 0, "\(run.err)")
        let open = Set(run.out.split(separator: "\n").map(String.init))
        // 3 is the directory ls itself opens to list them.
        #expect(open.isSubset(of: ["0", "1", "2", "3"]), "the child had \(open.sorted())")
    }

    @Test func exitCodesAndSignalsAreReported() throws {
        let seven = ChildProcess.run("/bin/sh", ["-c", "echo out; echo err >&2; exit 7"])
        #expect(seven.status == 7 && seven.out == "out\n" && seven.err == "err\n")

        let child = try ChildProcess("/bin/sleep", ["30"])
        #expect(child.isRunning)
        child.signal(SIGTERM)
        child.waitUntilExit()
        #expect(!child.isRunning && child.endedBySignal && child.terminationStatus == SIGTERM)

        #expect(ChildProcess.run("/nonexistent/tally", []).status == -1)
    }
}
