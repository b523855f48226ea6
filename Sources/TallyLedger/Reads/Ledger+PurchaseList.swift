extension Ledger {
    /// Packages in display order (sort order, then id byte-wise); inactive ones only if asked.
    public func packages(includeInactive: Bool) -> [TokenPackage] {
        guard includeInactive else { return activePackages() }
        return packages.values.sorted { ($0.sortOrder, ExactString($0.id)) < ($1.sortOrder, ExactString($1.id)) }
    }

    /// A user's purchases newest first, at most `limit` (a scan of every purchase).
    public func purchases(of userID: String, limit: Int) -> [Purchase] {
        let user = ExactString(userID)
        return Array(purchases.values.filter { ExactString($0.userID) == user }.sorted { $0.id > $1.id }.prefix(limit))
    }
}
