import Foundation
import Testing
import TallyClient
import TallyServer
import TallyStore
import TallyWire

/// Switching a data directory to `--fsync never`: the journal segments of the earlier run are
/// removed once the snapshots cover them, and nothing acknowledged is lost on the way.
@Suite struct FsyncNeverTests {
    func segments(_ scratch: Scratch) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: JournalSegment.directory(in: scratch.data))) ?? [])
            .filter { $0.hasSuffix(".log") }
    }

    @Test func leftoverSegmentsGoOnceSnapshotsCoverThem() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var server = try await scratch.start()
        var client = try await TallyClient.connect(socketPath: scratch.socket)
        for _ in 0..<5 { _ = try await client.credit(credit("n", 10)) }
        await client.close()
        try await server.shutdown()
        #expect(!segments(scratch).isEmpty, "the journaled run left segments")

        server = try await scratch.start { $0.fsync = .never }
        client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.getBalance(userID: "n").available == 50)
        _ = try await client.credit(credit("n", 1))
        let _: Tally_V1_SnapshotResponse = try await client.unary(.snapshot, Tally_V1_SnapshotRequest())
        let _: Tally_V1_SnapshotResponse = try await client.unary(.snapshot, Tally_V1_SnapshotRequest())
        #expect(segments(scratch).isEmpty, "two snapshots past the old journal's last record: its segments are gone")
        await client.close()
        try await server.shutdown()

        server = try await scratch.start()
        client = try await TallyClient.connect(socketPath: scratch.socket)
        #expect(try await client.getBalance(userID: "n").available == 51)
        await client.close()
        try await server.shutdown()
    }
}
