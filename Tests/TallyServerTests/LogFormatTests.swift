import Foundation
import Glibc
import Testing

/// `--log-format json`: every line tallyd writes to stderr is one JSON object with the time,
/// level, message and each metadata key as a field.
@Suite struct LogFormatTests {
    @Test func jsonLinesParseAndCarryTheirMetadata() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let logPath = scratch.root + "/tallyd.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let process = try ChildProcess(
            try CrashTests.tallydPath(),
            ["--data-dir", scratch.data, "--socket", scratch.socket, "--log-format", "json", "--log-level", "info"],
            stderr: .file(logPath))
        defer { if process.isRunning { process.signal(SIGKILL) } }
        try await waitUntilTallydServes(process, socket: scratch.socket, log: logPath)
        process.signal(SIGHUP)  // a notice line without metadata
        try await Task.sleep(for: .milliseconds(300))
        process.signal(SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)

        let lines = try String(contentsOfFile: logPath, encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 3, "\(lines)")
        var objects: [[String: Any]] = []
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "not a JSON object: \(line)")
            if let object { objects.append(object) }
        }
        for object in objects {
            #expect(object["time"] is String && object["level"] is String && object["message"] is String, "\(object)")
            let time = object["time"] as? String ?? ""
            #expect((try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(time)) != nil, "time \(time)")
        }
        let directory = try #require(objects.first { $0["message"] as? String == "gave the data directory its id" })
        #expect(directory["level"] as? String == "notice" && directory["path"] as? String == scratch.data, "\(directory)")
        #expect((directory["id"] as? String)?.count == 32, "metadata keys are fields of their own: \(directory)")
        #expect(objects.contains { ($0["message"] as? String)?.hasPrefix("SIGHUP received") == true })
        let closed = try #require(objects.first { $0["message"] as? String == "journal closed" })
        #expect(closed["records"] as? String == "0" && closed["fsyncs"] != nil, "\(closed)")
    }
}
