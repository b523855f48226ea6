import Logging
import NIOCore
import NIOPosix
import Testing
import TallyLedger
import TallyStore

@testable import TallyServer

/// The Writer on its own event loop, driven the way connections drive it: one batch per hop.
@Suite struct WriterTests {
    final class Fixture {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let writer: Writer

        init(ledger: Ledger = Ledger(), journal: any Journal = SnapshotsOnly()) {
            writer = Writer(
                ledger: ledger, nextSequence: 1, loop: group.next(), journal: journal, snapshots: SnapshotPolicy(),
                logger: Logger(label: "writer-test"))
        }

        func run(_ calls: [WriterCall]) async -> [WriterAnswer] {
            await withCheckedContinuation { continuation in
                writer.submit(calls) { answers, _ in continuation.resume(returning: answers) }
            }
        }

        deinit {
            try? group.syncShutdownGracefully()
        }
    }

    static func creditCall(_ id: UInt64, _ user: String, _ amount: Int64, deadline: NIODeadline? = nil) -> WriterCall {
        WriterCall(
            callID: id, method: .credit, deadline: deadline,
            operation: .apply(.credit(Credit(userID: user, amount: amount, kind: .grant))))
    }

    @Test func callPastItsDeadlineIsNotApplied() async throws {
        let fixture = Fixture()
        let answers = await fixture.run([
            Self.creditCall(1, "d", 5, deadline: .now() - .milliseconds(1)),
            Self.creditCall(2, "d", 7, deadline: .now() + .seconds(60)),
            Self.creditCall(3, "d", 11),
        ])
        #expect(answers.map(\.callID) == [1, 2, 3])
        guard case .deadlineExceeded = answers[0].result else {
            Issue.record("expected DEADLINE_EXCEEDED, got \(answers[0].result)")
            return
        }
        let ledger = await fixture.writer.currentLedger()
        #expect(ledger.balance(of: "d").account.available == 18)
        #expect(ledger.transactions.count == 2)
    }

    @Test func stampsStrictlyIncreaseAcrossBatches() async throws {
        let fixture = Fixture()
        var stamps: [Int64] = []
        for batch in 0..<20 {
            let answers = await fixture.run((0..<50).map { Self.creditCall(UInt64(batch * 50 + $0 + 1), "s", 1) })
            for answer in answers {
                guard case .applied(let applied) = answer.result, case .accepted(let receipt) = applied.outcome else {
                    Issue.record("not applied: \(answer.result)")
                    continue
                }
                stamps.append(receipt.transaction.createdAt)
            }
        }
        #expect(stamps.count == 1_000)
        #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0 < $1 })
    }

    @Test func stampsContinuePastTheLoadedLedgersLastTimestamp() async throws {
        // A ledger whose last command is far in the future (a clock that stepped back since).
        var ledger = Ledger()
        let future = WriterClock.wallClockMicros() + 3_600_000_000
        _ = ledger.apply(.credit(Credit(userID: "f", amount: 1, kind: .grant)), at: future)
        let fixture = Fixture(ledger: ledger)
        let answers = await fixture.run([Self.creditCall(1, "f", 1)])
        guard case .applied(let applied) = answers[0].result, case .accepted(let receipt) = applied.outcome else {
            Issue.record("not applied: \(answers[0].result)")
            return
        }
        #expect(receipt.transaction.createdAt == future + 1)
    }

    @Test func afterStopMutationsAreRefusedAndReadsStillAnswered() async throws {
        let fixture = Fixture()
        _ = await fixture.run([Self.creditCall(1, "z", 3)])
        let stopped = await fixture.writer.stop()
        let (sequence, final) = try #require(stopped)
        #expect(sequence == 1 && final.balance(of: "z").account.available == 3)
        let answers = await fixture.run([
            Self.creditCall(2, "z", 3),
            WriterCall(callID: 3, method: .getBalance, deadline: nil, operation: .balance(userID: "z")),
        ])
        guard case .unavailable(let reason, _) = answers[0].result else {
            Issue.record("expected UNAVAILABLE, got \(answers[0].result)")
            return
        }
        #expect(reason == "SHUTTING_DOWN")
        guard case .balance(let balance) = answers[1].result else {
            Issue.record("expected a balance, got \(answers[1].result)")
            return
        }
        #expect(balance.account.available == 3)
    }
}
