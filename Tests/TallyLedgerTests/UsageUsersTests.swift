import Testing
@testable import TallyLedger
import TallyTestSupport

/// UsageUsers against a plain Dictionary: new users (runs long enough to cross chunks), changes
/// in place and by replacement, and copies kept across writes (snapshots), with fixed seeds.
struct UsageUsersTests {
    @Test(arguments: [1, 2, 0xC0FFEE] as [UInt64])
    func agreesWithADictionary(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var users = UsageUsers()
        var model: [ExactString: UserUsage] = [:]
        var copies: [(UsageUsers, [ExactString: UserUsage])] = []
        func usage(_ used: Int64) -> UserUsage {
            var usage = UserUsage()
            usage.used = used
            return usage
        }
        for step in 0..<5_000 {
            switch random.next() % 8 {
            case 0...2:
                for _ in 0..<(random.next() % 40 == 0 ? 1 + Int(random.next() % 1_500) : 1) {
                    let id = ExactString("user-\(model.count)")
                    #expect(users.updateValue(usage(Int64(step)), forKey: id) == nil, "seed \(seed) step \(step)")
                    model[id] = usage(Int64(step))
                }
            case 3, 4:
                guard let id = model.keys.randomElement(using: &random) else { continue }
                let result = users.update(id) { stored in
                    stored.used += 7
                    return stored.used
                }
                model[id]!.used += 7
                #expect(result == model[id]!.used, "seed \(seed) step \(step)")
            case 5:
                guard let id = model.keys.randomElement(using: &random) else { continue }
                #expect(users.updateValue(usage(-1), forKey: id) == model.updateValue(usage(-1), forKey: id), "seed \(seed) step \(step)")
            case 6:
                let unknown = ExactString("nobody-\(step)")
                #expect(users.update(unknown) { _ in true } == nil && users[unknown] == nil, "seed \(seed) step \(step)")
                users[unknown, default: UserUsage()].shadow = true
                model[unknown, default: UserUsage()].shadow = true
            default:
                if copies.count < 4 { copies.append((users, model)) }
            }
        }
        #expect(users.count == model.count, "seed \(seed)")
        #expect(Dictionary(uniqueKeysWithValues: users.map { ($0.key, $0.value) }) == model, "seed \(seed)")
        #expect(users.values.map(\.used).sorted() == model.values.map(\.used).sorted(), "seed \(seed)")
        for (copy, then) in copies {
            #expect(copy.count == then.count && then.allSatisfy { copy[$0.key] == $0.value }, "seed \(seed): a copy changed")
        }
        var rebuilt = UsageUsers()
        for (id, value) in model.sorted(by: { $0.key < $1.key }) { rebuilt.updateValue(value, forKey: id) }
        #expect(rebuilt == users, "seed \(seed): equality ignores slot order")
    }
}
