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
