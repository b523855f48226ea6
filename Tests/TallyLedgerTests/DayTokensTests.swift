import Testing
import TallyLedger
import TallyTestSupport

/// DayTokens against a Dictionary: days set, added to and removed in any order (a settle lands on
/// an earlier day), read back in day order; equal contents compare equal however they were built.
struct DayTokensTests {
    @Test(arguments: [5, 31, 0xBADC0DE] as [UInt64])
    func agreesWithADictionary(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var days = MonthDays()
        var model: [UInt8: Int64] = [:]
        for step in 0..<3_000 {
            let day = UInt8.random(in: 1...31, using: &random)
            switch random.next() % 4 {
            case 0, 1:
                let tokens = Int64.random(in: 1...1_000, using: &random)
                days[day, default: 0] += tokens
                model[day, default: 0] += tokens
            case 2:
                days[day] = nil
                model[day] = nil
            default:
                #expect(days[day] == model[day], "seed \(seed) step \(step)")
            }
            #expect(days.count == model.count, "seed \(seed) step \(step)")
        }
        #expect(days.keys == model.keys.sorted(), "seed \(seed): days in order")
        #expect(days.map(\.value) == model.sorted { $0.key < $1.key }.map(\.value), "seed \(seed)")
        var reversed = MonthDays()
        for (day, tokens) in model.sorted(by: { $0.key > $1.key }) { reversed[day] = tokens }
        #expect(reversed == days, "seed \(seed): built backwards, still equal")
    }

    @Test func literalAndSummaries() {
        var month = MonthUsage(tier: "free")
        month.days = [4: 2_100, 1: 850, 5: 1_750, 2: 1_200]
        month.total = 5_900
        #expect(month.days.keys == [1, 2, 4, 5])
        #expect(month.averagePerDay == 1_180)
        #expect(month.peak?.day == 4 && month.peak?.tokens == 2_100)
        #expect(MonthDays().isEmpty && MonthUsage(tier: "free").peak == nil)
    }

    @Test func dailyRecordsReplaceAndDropPastRetention() {
        var days = DayTokens<CivilDay>()
        var date = CivilDay(year: 2024, month: 12, day: 20)
        for tokens in 1...20 as ClosedRange<Int64> {
            #expect(days.updateValue(tokens, forKey: date) == nil)
            date = CivilDay(dayNumber: date.dayNumber + 1)
        }
        let jan2 = CivilDay(year: 2025, month: 1, day: 2)
        #expect(days.updateValue(100, forKey: jan2) == 14)
        days.removeAll { $0.key < CivilDay(year: 2025, month: 1, day: 1) }
        #expect(days.count == 8 && days.keys.first == CivilDay(year: 2025, month: 1, day: 1) && days[jan2] == 100)
    }
}
