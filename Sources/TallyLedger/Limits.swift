/// Bounds on what a command may carry. Each is documented in docs/protocol.md; past one the
/// command is refused with INVALID_ARGUMENT and reason FIELD_TOO_LONG.
public enum Limits {
    public static let maxUserIDBytes = 128
    public static let maxReferenceBytes = 256
    public static let maxMemoBytes = 1_024
    /// Metadata on a transaction: at most this many entries, keys and values this long.
    public static let maxMetadataEntries = 16
    public static let maxMetadataKeyBytes = 64
    public static let maxMetadataValueBytes = 256
    public static let maxIdempotencyKeyBytes = 128
    /// Tier names and time zone names.
    public static let maxNameBytes = 64
}
