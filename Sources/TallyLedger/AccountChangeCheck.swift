/// Assertions where TigerBeetle puts them: cheap checks on the apply path that a command which
/// moves one user's tokens kept double entry for what it touched and moved the account's
/// version by one per transaction it recorded. A failure is a bug in the Ledger, not bad input,
/// and the state can no longer be trusted: it stops tallyd (fail-stop) before anything is
/// journaled or answered. The whole-state invariants (`invariantViolations`) stay for recovery,
/// tests and Admin/Health; these cost two lookups of the account.
struct AccountChangeCheck {
    let user: ExactString
    let before: Account
    let systemBefore: Int128

    /// nil for commands that do not move one named user's tokens (settlements touch many users,
    /// usage calls touch no account): the whole-state invariants cover those.
    init?(_ ledger: Ledger, _ command: Command) {
        switch command {
        case .credit, .spend, .spendAction, .commit: break
        default: return nil
        }
        user = ExactString(command.userID)
        before = ledger.accounts[user] ?? Account()
        systemBefore = Self.system(ledger)
    }

    func verify(_ ledger: Ledger, recorded: UInt64) {
        let after = ledger.accounts[user] ?? Account()
        let moved = Self.held(after) - Self.held(before)
        precondition(
            moved + Self.system(ledger) - systemBefore == 0,
            "double entry broken: \(user.value)'s tokens moved by \(moved), mint, burn and house by \(Self.system(ledger) - systemBefore)")
        precondition(
            after.version == before.version + recorded,
            "\(user.value)'s version went from \(before.version) to \(after.version) with \(recorded) transaction(s) recorded")
        precondition(
            Self.held(after) == Int128(after.totalEarned) - Int128(after.totalSpent),
            "\(user.value)'s available plus committed differs from earned minus spent")
    }

    private static func held(_ account: Account) -> Int128 { Int128(account.available) + Int128(account.committed) }
    private static func system(_ ledger: Ledger) -> Int128 { Int128(ledger.mint) + Int128(ledger.burn) + Int128(ledger.house) }
}
