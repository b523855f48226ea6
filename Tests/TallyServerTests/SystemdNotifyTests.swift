import Dispatch
import Foundation
import Glibc
import TallyClient
@testable import TallyServer
import Testing

/// tallyd under systemd's notify protocol: a real tallyd process, its NOTIFY_SOCKET a datagram
/// socket this test binds, the messages read in the order sent.
@Suite struct SystemdNotifyTests {
    /// A bound datagram socket standing in for systemd's.
    final class NotifySocket {
        let path: String
        let fd: Int32

        init(path: String) throws {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw ChildProcessError("socket: \(errno)") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
                for (index, byte) in path.utf8.enumerated() { sunPath[index] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { throw ChildProcessError("bind \(path): \(errno)") }
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// Every datagram received until `done` holds of them or `seconds` pass.
        func read(for seconds: Double, until done: ([String]) -> Bool) -> [String] {
            var messages: [String] = []
            let end = Date().addingTimeInterval(seconds)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < end, !done(messages) {
                let count = recv(fd, &buffer, buffer.count, 0)
                if count > 0 { messages.append(String(decoding: buffer[0..<count], as: UTF8.self)) }
            }
            return messages
        }
    }

    @Test func readyWatchdogAndStoppingArriveInOrder() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let notify = try NotifySocket(path: scratch.root + "/notify")
        let logPath = scratch.root + "/tallyd.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = try ChildProcess(
            try CrashTests.tallydPath(), ["--data-dir", scratch.data, "--socket", scratch.socket, "--log-level", "notice"],
            stderr: .file(logPath), environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"])
        defer { if process.isRunning { process.signal(SIGKILL) } }

        // Recovering, then ready once it serves, then a ping every 500 ms (half of WATCHDOG_USEC).
        let started = notify.read(for: 20) { $0.filter { $0 == "WATCHDOG=1" }.count >= 3 }
        let ready = try #require(started.firstIndex { $0.hasPrefix("READY=1\n") }, "\(started)")
        #expect(started.first?.hasPrefix("STATUS=recovering ") == true, "\(started)")
        #expect(started[ready].contains("STATUS=serving \(scratch.socket)"), "\(started[ready])")
        #expect(started.filter { $0 == "WATCHDOG=1" }.count >= 3 && started.lastIndex(of: "WATCHDOG=1")! > ready, "\(started)")
        let client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.getBalance(userID: "n").available == 0, "READY=1 came once it serves")
        await client.close()

        process.signal(SIGTERM)
        let stopping = notify.read(for: 20) { $0.contains { $0.hasPrefix("STOPPING=1\n") } }
        let last = try #require(stopping.last { $0.hasPrefix("STOPPING=1\n") }, "\(stopping)")
        #expect(last.contains("STATUS=stopping: asked to stop"), "\(last)")
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    /// The sample config beside the unit file is one tallyd accepts.
    @Test func theDeploySampleConfigChecks() throws {
        let sample = EndpointDocsTests.repository.appendingPathComponent("docs/deploy/tallyd.toml").path
        let run = try runTallyd(["check-config", sample])
        #expect(run.status == 0 && run.output.contains("data_dir = /var/lib/tally"), "\(run)")
        let unit = try EndpointDocsTests.read("docs/deploy/tallyd.service")
        #expect(unit.contains("Type=notify") && unit.contains("ExecStart=/usr/local/bin/tallyd --config /etc/tally/tallyd.toml"))
    }

    /// What the watchdog asks: a Writer's loop stuck in one turn does not answer, so no ping.
    @Test func aStuckWritersLoopDoesNotRespond() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let server = try await scratch.start()
        #expect(await server.writerResponds(within: .seconds(30)))
        // The loop is held in one turn until the probe has given up: no timing to race.
        let release = DispatchSemaphore(value: 0)
        server.writer.loop.execute { release.wait() }
        #expect(!(await server.writerResponds(within: .milliseconds(200))), "a stuck loop gets no ping")
        release.signal()
        #expect(await server.writerResponds(within: .seconds(30)), "it answers again once the turn ends")
        try await server.shutdown()
    }
}
