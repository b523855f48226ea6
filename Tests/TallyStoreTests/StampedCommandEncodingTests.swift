import TallyLedger
import TallyTestSupport
import TallyCodec
import TallyWire
import Testing

@testable import TallyStore

/// The journal's own encoder for hot records against swift-protobuf: the same bytes for random
/// usage calls, spends and credits (empty and non-ASCII strings, zero, negative and extreme
/// numbers, with and without a usage day and an origin), and every record reads back as written.
struct StampedCommandEncodingTests {
    static func string(_ random: inout SplitMix64) -> String {
        random.pick(["", "alice", "cafe\u{301}", "caf\u{E9}", "✓ mémo", String(repeating: "x", count: 200), "k-\(random.next())"])
    }

    static func number(_ random: inout SplitMix64) -> Int64 {
        random.pick([0, 1, -1, 127, 128, Int64.max, Int64.min, Int64.random(in: .min ... .max, using: &random)])
    }

    static func command(_ random: inout SplitMix64) -> Command {
        switch random.next() % 6 {
        case 0: return .consume(Consume(userID: string(&random), tokens: number(&random), idempotencyKey: string(&random)))
        case 1:
            return .reserve(Reserve(
                userID: string(&random), tokens: number(&random), ttlMilliseconds: random.pick([0, 1, UInt32.max]),
                idempotencyKey: string(&random)))
        case 2: return .settle(Settle(reservationID: random.pick([0, 1, UInt64.max, random.next()]), tokens: number(&random), idempotencyKey: string(&random)))
        case 3: return .release(Release(reservationID: random.pick([0, 300, UInt64.max]), idempotencyKey: string(&random)))
        case 4:
            return .spend(Spend(
                userID: string(&random), amount: number(&random), reference: string(&random), memo: string(&random),
                idempotencyKey: string(&random)))
        default:
            return .credit(Credit(
                userID: string(&random), amount: number(&random), kind: random.pick([nil, .purchase, .grant, .refund, .adjustment]),
                reference: string(&random), memo: string(&random), idempotencyKey: string(&random)))
        }
    }

    @Test(arguments: [1, 2, 0x5EED] as [UInt64])
    func sameBytesAsSwiftProtobuf(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        for step in 0..<2_000 {
            // A real day (recovery refuses impossible ones); the extremes are in the other numbers.
            let start: Int64 = random.pick([-86_400_000_000, 0, 1_700_000_000_000_000])
            let day: UsageDay? =
                random.chance(50)
                ? UsageDay(
                    date: CivilDay(year: random.pick([2024, -3, 0, 99_999]), month: random.pick([1, 12]), day: random.pick([1, 31])),
                    startsAt: start, endsAt: random.pick([start + 1, start + 86_400_000_000, Int64.max]))
                : nil
            let origin: AuditOrigin? =
                random.chance(50)
                ? AuditOrigin(uid: random.pick([0, 1000, UInt32.max]), gid: random.pick([0, 7]), role: Self.string(&random), method: Self.string(&random))
                : nil
            let record = JournalRecord(
                sequence: random.next(), command: Self.command(&random), timestamp: Self.number(&random), day: day, origin: origin)
            var fast: [UInt8] = [9, 9]  // appends after what is there
            #expect(StampedCommandEncoding.append(record, to: &fast), "seed \(seed) step \(step)")
            let reference: [UInt8] = try Tally_Store_V1_StampedCommand(
                record.command, at: record.timestamp, day: record.day, origin: record.origin
            ).serializedBytes()
            #expect(fast == [9, 9] + reference, "seed \(seed) step \(step): \(record)")

            var bytes: [UInt8] = []
            try record.encode(into: &bytes)
            guard case .record(let read, let count) = JournalRecord.read(bytes[...]) else {
                Issue.record("seed \(seed) step \(step): record does not read back: \(JournalRecord.read(bytes[...]))")
                continue
            }
            #expect(count == bytes.count && read.sequence == record.sequence && read.command == record.command, "seed \(seed) step \(step)")
            #expect(read.timestamp == record.timestamp && read.day == record.day && read.origin == record.origin, "seed \(seed) step \(step)")
        }
    }

    @Test func metadataAndOtherCommandsGoThroughSwiftProtobuf() throws {
        let records = [
            JournalRecord(sequence: 1, command: .spend(Spend(userID: "a", amount: 1, metadata: ["k": "v", "x": "y"])), timestamp: 5),
            JournalRecord(sequence: 2, command: .credit(Credit(userID: "a", amount: 1, kind: .grant, metadata: ["k": "v"])), timestamp: 5),
            JournalRecord(sequence: 3, command: .expireReservations, timestamp: 6, day: .utc(containing: 6)),
            JournalRecord(sequence: 4, command: .cancelCommitment(id: 9), timestamp: 7, origin: AuditOrigin(uid: 1, gid: 2, role: "app", method: "m")),
        ]
        for record in records {
            var none: [UInt8] = []
            #expect(!StampedCommandEncoding.append(record, to: &none) && none.isEmpty)
            var bytes: [UInt8] = []
            try record.encode(into: &bytes)
            guard case .record(let read, _) = JournalRecord.read(bytes[...]) else {
                Issue.record("\(record) does not read back")
                continue
            }
            #expect(read == record)
        }
    }
}
