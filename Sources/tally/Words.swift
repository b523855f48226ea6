/// How the CLI says things to people: counts with the right noun ("1 winner", "2 winners"),
/// tables whose columns line up, and the CLI's own command names where tallyd's messages name
/// an RPC.

/// `n` and its noun, singular for exactly one: counted(1, "winner") is "1 winner".
func counted(_ n: some BinaryInteger, _ singular: String, _ plural: String? = nil) -> String {
    "\(n) " + (n == 1 ? singular : plural ?? singular + "s")
}

/// Rows of cells as lines whose columns line up: every column but the last is padded to its
/// widest cell (by characters, as a terminal shows them), two spaces apart.
func aligned(_ rows: [[String]]) -> [String] {
    let columns = rows.map(\.count).max() ?? 0
    var widths = [Int](repeating: 0, count: columns)
    for row in rows {
        for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    return rows.map { row in
        row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
        }.joined(separator: "  ")
    }
}

/// A message from tallyd in the CLI's words: the RPCs it names become the `tally` commands that
/// call them ("an admin sets one with SetPrice" reads "... with `tally price set`").
func inCLIWords(_ message: String) -> String {
    var text = message
    for (rpc, command) in cliCommands where text.contains(rpc) {
        text = text.replacingOccurrences(of: rpc, with: "`\(command)`")
    }
    return text
}

/// RPC names as tallyd's messages use them, and the commands that call them (no name here is
/// part of another, so the order of replacing does not matter).
private let cliCommands: [(String, String)] = [
    ("SetMembership", "tally membership set"), ("EndMembership", "tally membership end"),
    ("SetPrice", "tally price set"), ("RemovePrice", "tally price remove"), ("SetLimits", "tally limits"),
    ("SavePackage", "tally package save"), ("DeactivatePackage", "tally package deactivate"),
    ("StartPurchase", "tally purchase start"), ("CompletePurchase", "tally purchase complete"), ("FailPurchase", "tally purchase fail"),
    ("ListTransactions", "tally history"), ("GetTransaction", "tally transaction"), ("GetBalance", "tally balance"),
]
