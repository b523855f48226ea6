import TallyLedger
import TallyTestSupport

/// Random commands for the property tests: mostly ordinary, sometimes hostile. Deterministic for a seed.
struct CommandGenerator {
    /// Includes "café" precomposed and decomposed: equal as Swift Strings, different users.
    static let users = [
        "alice", "bob", "carol", "dave", "erin", "frank", "gößer 🙂", "caf\u{E9}", "cafe\u{301}", String(repeating: "z", count: 128),
    ]
    static let hostileUsers = ["", "tab\tuser", "nul\u{0}", "del\u{7F}", String(repeating: "x", count: 129)]
    static let keys = (0..<10).map { "key-\($0)" } + ["k\u{E9}", "ke\u{301}"]
    static let hugeAmounts: [Int64] = [Int64.max, Int64.max - 1, Int64.max / 2, Int64.max / 2 + 1, 1 << 62, 1 << 40]
    static let hostileAmounts: [Int64] = [0, -1, -500, Int64.min, Int64.min + 1]

    var rng: SplitMix64
    let ttl: Int64
    /// Step from which Int64.max-sized amounts may appear (they soon exhaust the mint, after which
    /// credits are refused, so seeds differ in when they start).
    let hugeAmountsFrom: Int
    private(set) var now: Timestamp = 1_700_000_000_000_000
    private var step = 0
    private var retries = KeyedRetries(capacity: 32)

    init(seed: UInt64, steps: Int) {
        rng = SplitMix64(seed: seed)
        ttl = [1_000_000, 250_000, 3_000_000][Int(seed % 3)]
        hugeAmountsFrom = [0, steps / 4, steps * 3 / 4, Int.max][Int(seed % 4)]
    }

    /// The next command and its timestamp (strictly increasing). Reads the model only to aim
    /// spends at a user's exact balance and clock jumps at exact expiries.
    mutating func next(model: ReferenceModel) -> (Command, Timestamp) {
        step += 1
        advanceClock(model: model)
        let command: Command
        if !retries.isEmpty, rng.chance(15) {
            command = retries.exact(recent: 4, &rng)
        } else if !retries.isEmpty, rng.chance(8) {
            command = retries.conflicting(recent: 32, users: Self.users, &rng)
        } else {
            command = fresh(model: model)
        }
        retries.remember(command)
        return (command, now)
    }

    private mutating func advanceClock(model: ReferenceModel) {
        if rng.chance(4), let expiry = model.keys.values.map(\.expiresAt).filter({ $0 > now + 1 }).min() {
            now = rng.chance(50) ? expiry : expiry - 1  // exactly at, or just before, an expiry
            return
        }
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<75: now += Int64.random(in: 1...20_000, using: &rng)
        case 75..<92: now += Int64.random(in: 20_000...400_000, using: &rng)
        default: now += Int64.random(in: 500_000...4_000_000, using: &rng)
        }
    }

    private mutating func fresh(model: ReferenceModel) -> Command {
        let user = rng.chance(4) ? rng.pick(Self.hostileUsers) : rng.pick(Self.users)
        let isCredit = rng.chance(50)
        let amount: Int64
        let balance = model.account(user)?.available ?? 0
        if rng.chance(3) {
            amount = rng.pick(Self.hostileAmounts)
        } else if step >= hugeAmountsFrom, rng.chance(3) {
            amount = rng.pick(Self.hugeAmounts)
        } else if !isCredit, rng.chance(12) {
            amount = max(balance, 1)  // exactly everything
        } else if !isCredit, rng.chance(8) {
            amount = balance == Int64.max ? balance : balance + 1  // one too many
        } else {
            amount = rng.chance(85) ? Int64.random(in: 1...1_000, using: &rng) : Int64.random(in: 1...1_000_000, using: &rng)
        }
        let reference: String
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<85: reference = ""
        case 85..<97: reference = "ref-\(Int.random(in: 0..<5, using: &rng))"
        case 97..<99: reference = String(repeating: "r", count: 257)
        default: reference = String(repeating: "r", count: 256)
        }
        let memo: String
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<90: memo = ""
        case 90..<98: memo = "memo"
        case 98: memo = String(repeating: "m", count: 1_025)
        default: memo = String(repeating: "m", count: 1_024)
        }
        let key: String
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<40: key = ""
        case 40..<94: key = rng.pick(Self.keys)
        case 94..<97: key = "once-\(step)"
        default: key = String(repeating: "k", count: rng.chance(50) ? 129 : 128)
        }
        if isCredit {
            let kind: CreditKind? = rng.chance(3) ? nil : rng.pick(CreditKind.allCases)
            return .credit(Credit(userID: user, amount: amount, kind: kind, reference: reference, memo: memo, idempotencyKey: key))
        }
        return .spend(Spend(userID: user, amount: amount, reference: reference, memo: memo, idempotencyKey: key))
    }

    /// A whole run's commands, generated against the model alone (for the replay tests).
    static func trace(seed: UInt64, steps: Int) -> (ttl: Int64, commands: [(Command, Timestamp)]) {
        var generator = CommandGenerator(seed: seed, steps: steps)
        var model = ReferenceModel(ttl: generator.ttl)
        var commands: [(Command, Timestamp)] = []
        for _ in 0..<steps {
            let (command, now) = generator.next(model: model)
            _ = model.apply(command, at: now)
            commands.append((command, now))
        }
        return (generator.ttl, commands)
    }
}
