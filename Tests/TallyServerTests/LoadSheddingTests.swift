import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing
import TallyServer
import TallyStore
import TallyWire

/// Past the Writer's queue bound, new mutations are answered UNAVAILABLE OVERLOADED with a
/// retry-after at once (nothing applied) instead of queueing, while reads still queue and are
/// answered; once the queue drains, mutations are taken again.
@Suite struct LoadSheddingTests {
    /// Real files whose fdatasync waits until the test opens the gate: a disk that has stalled.
    final class StalledIO: JournalIO {
        let real = PosixJournalIO()
        let gate = DispatchSemaphore(value: 0)
        let stalled = Mutex(false)

        func createSegment(_ name: String, in directory: StoreDirectory) throws -> any SegmentFile {
            Segment(try real.createSegment(name, in: directory), io: self)
        }
        func removeFile(_ name: String, in directory: StoreDirectory) throws { try real.removeFile(name, in: directory) }
        func syncDirectory(_ directory: StoreDirectory) throws { try real.syncDirectory(directory) }
        func stall() { stalled.withLock { $0 = true } }
        func open() {
            let wasStalled = stalled.withLock { was in
                defer { was = false }
                return was
            }
            if wasStalled { gate.signal() }
        }

        final class Segment: SegmentFile {
            let file: any SegmentFile
            let io: StalledIO
            init(_ file: any SegmentFile, io: StalledIO) {
                self.file = file
                self.io = io
            }
            func append(_ bytes: [UInt8]) throws { try file.append(bytes) }
            func sync() throws {
                if io.stalled.withLock({ $0 }) {
                    io.gate.wait()
                }
                try file.sync()
            }
            func close() { file.close() }
        }
    }

    @Test func mutationsAreShedWhileReadsStillQueue() async throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let io = StalledIO()
        let server = try await scratch.start(io: io) { $0.writerQueueLimit = 10 }
        io.stall()
        defer { io.open() }

        let busy = try RawConnection(path: scratch.socket)
        busy.send(try (1...10).flatMap { try frame(try envelope(Method.credit.rawValue, credit("s", 1), callID: UInt64($0))) })
        for _ in 0..<500 where server.queuedCalls < 10 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(server.queuedCalls == 10)

        let other = try RawConnection(path: scratch.socket)
        other.send(try frame(try envelope(Method.credit.rawValue, credit("t", 7), callID: 1)))
        let shed = try #require(try other.response())
        #expect(shed.callID == 1 && shed.code == .unavailable && shed.reason == "OVERLOADED")
        #expect(shed.details["retry_after_ms"] == "100" && shed.details["queued_limit"] == "10")
        // Health answers at once, journal stalled or not, and shows the queue.
        other.send(try frame(try envelope(Method.health.rawValue, Tally_V1_HealthRequest(), callID: 5)))
        let health = try #require(try other.response())
        #expect(health.callID == 5 && health.code == .ok)
        let report = try Tally_V1_HealthResponse(serializedBytes: health.payload)
        #expect(report.queuedCalls == 10 && report.queuedCallsLimit == 10 && report.acceptingMutations)
        #expect(report.durableSequence == 0, "nothing is durable while fsync stalls")
        // A read is not shed: it waits its turn and is answered once the journal moves.
        other.send(try frame(try envelope(Method.getBalance.rawValue, Tally_V1_GetBalanceRequest.with { $0.userID = "s" }, callID: 2)))

        io.open()
        var credited = 0
        for _ in 0..<10 {
            let answer = try #require(try busy.response())
            if answer.code == .ok { credited += 1 }
        }
        #expect(credited == 10)
        let read = try #require(try other.response())
        #expect(read.callID == 2 && read.code == .ok)
        #expect(try Tally_V1_GetBalanceResponse(serializedBytes: read.payload).balance.available == 10)

        // Drained: mutations are taken again, and the shed one was never applied.
        for _ in 0..<500 where server.queuedCalls > 0 { try await Task.sleep(for: .milliseconds(10)) }
        other.send(try frame(try envelope(Method.credit.rawValue, credit("t", 3), callID: 3)))
        let taken = try #require(try other.response())
        #expect(taken.code == .ok)
        #expect(await server.currentLedger().balance(of: "t").account.available == 3)
        try await server.shutdown()
    }
}
