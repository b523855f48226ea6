import TallyLedger

/// The `limit` of a list request: 0 means the list's default, and at most 1,000 per page.
enum PageLimit {
    static let most: UInt32 = 1_000

    static func decode(_ limit: UInt32, default fallback: Int = 50) -> Result<Int, Refusal> {
        guard limit <= most else {
            return .failure(Refusal(
                code: .invalidArgument, reason: "LIMIT_OUT_OF_RANGE",
                message: "limit must be at most \(most) (0 for \(fallback)), got \(limit)",
                details: ["field": "limit", "limit": String(limit)]))
        }
        return .success(limit == 0 ? fallback : Int(limit))
    }
}

extension PageLimit {
    /// The page of `found` (read with one more than `limit`, to learn whether another page
    /// follows) and the next page's cursor: its last id, or 0 when this is the last page.
    static func page<Item>(_ found: [Item], limit: Int, id: (Item) -> UInt64) -> (items: ArraySlice<Item>, nextBeforeID: UInt64) {
        let items = found.prefix(limit)
        return (items, found.count > limit ? items.last.map(id) ?? 0 : 0)
    }
}
