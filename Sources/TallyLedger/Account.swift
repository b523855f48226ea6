/// A user's account. `available + committed == totalEarned - totalSpent` always holds.
public struct Account: Equatable, Sendable {
    public var available: Int64 = 0
    public var committed: Int64 = 0
    public var totalEarned: Int64 = 0
    public var totalSpent: Int64 = 0
    /// Increases by one with every change; 0 means the account was never touched.
    public var version: UInt64 = 0
    public var createdAt: Timestamp = 0
    public var updatedAt: Timestamp = 0

    public init(
        available: Int64 = 0, committed: Int64 = 0, totalEarned: Int64 = 0, totalSpent: Int64 = 0,
        version: UInt64 = 0, createdAt: Timestamp = 0, updatedAt: Timestamp = 0
    ) {
        self.available = available
        self.committed = committed
        self.totalEarned = totalEarned
        self.totalSpent = totalSpent
        self.version = version
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// An account as answered to callers: the account plus whose it is.
public struct Balance: Equatable, Sendable {
    public var userID: String
    public var account: Account

    public init(userID: String, account: Account) {
        self.userID = userID
        self.account = account
    }
}
