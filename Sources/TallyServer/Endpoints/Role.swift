import TallyWire

/// What a caller may do, decided by its peer credentials (docs/security.md, Roles).
public enum Role: String, Sendable, CaseIterable {
    /// Everything, including snapshots, backups and configuration.
    case admin
    /// App servers: reads and ledger mutations.
    case app
    /// Chat gateways: reads and daily-limit usage calls.
    case gateway
    /// Dashboards and support tools: reads only.
    case readOnly = "read-only"

    public func permits(_ access: MethodAccess) -> Bool {
        switch (self, access) {
        case (.admin, _): true
        case (_, .read): true
        case (.app, .write): true
        case (.gateway, .usage): true
        default: false
        }
    }
}
