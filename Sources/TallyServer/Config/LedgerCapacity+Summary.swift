import TallyLedger

extension LedgerCapacity {
    /// For the start-up banner and `tallyd check-config`: each bound, in the config file's names.
    public var summary: String {
        Collection.allCases.map { "\($0.rawValue) \(self[$0])" }.joined(separator: ", ")
    }
}
