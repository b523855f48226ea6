import NIOCore
import TallyLedger

/// The answers to the hottest reads and usage calls written straight from the Ledger's values
/// into the outbound buffer: GetBalance (a Balance), Usage/Check and Usage/Consume (a
/// UsageStatus). Building the tally.v1 message and serializing it through `any Message` (a
/// size pass, an encoding pass and a ByteBuffer of its own per answer) was 17% of tallyd's CPU
/// under consumes. The bytes are the ones swift-protobuf writes for the same message (fields in
/// number order, proto3 defaults left out, a set submessage always written), which
/// `HotAnswerTests` checks against it.
enum HotAnswers {
    // MARK: Sizes

    static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }

    static func varintField(_ field: UInt64, _ value: UInt64) -> Int {
        value == 0 ? 0 : varintSize(field << 3) + varintSize(value)
    }

    static func stringField(_ field: UInt64, _ utf8Count: Int) -> Int {
        utf8Count == 0 ? 0 : varintSize(field << 3 | 2) + varintSize(UInt64(utf8Count)) + utf8Count
    }

    static func messageField(_ field: UInt64, _ size: Int) -> Int {
        varintSize(field << 3 | 2) + varintSize(UInt64(size)) + size
    }

    static func balanceSize(_ balance: Balance) -> Int {
        let account = balance.account
        return stringField(1, balance.userID.utf8.count)
            + varintField(2, UInt64(bitPattern: account.available)) + varintField(3, UInt64(bitPattern: account.committed))
            + varintField(4, UInt64(bitPattern: account.totalEarned)) + varintField(5, UInt64(bitPattern: account.totalSpent))
            + varintField(6, account.version)
            + varintField(7, UInt64(bitPattern: account.createdAt)) + varintField(8, UInt64(bitPattern: account.updatedAt))
    }

    static func statusSize(_ status: UsageStatus, date: String) -> Int {
        stringField(1, status.userID.utf8.count) + stringField(2, date.utf8.count)
            + varintField(3, UInt64(bitPattern: status.used)) + varintField(4, UInt64(bitPattern: status.reserved))
            + varintField(5, UInt64(bitPattern: status.limit)) + varintField(6, UInt64(bitPattern: status.remaining))
            + varintField(7, UInt64(bitPattern: status.resetsAt)) + stringField(8, status.tier.value.utf8.count)
            + varintField(9, status.shadow ? 1 : 0) + varintField(10, UInt64(bitPattern: status.shadowRefusals))
    }
}

/// Writes protobuf fields through a raw pointer into space already reserved for them: byte by
/// byte ByteBuffer writes each check uniqueness, capacity and exclusivity (they cost more than
/// swift-protobuf's own encoding in a profile).
struct RawFields {
    let base: UnsafeMutableRawPointer
    var at = 0

    mutating func byte(_ value: UInt8) {
        base.storeBytes(of: value, toByteOffset: at, as: UInt8.self)
        at += 1
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            byte(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        byte(UInt8(value))
    }

    mutating func varintField(_ field: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        varint(field << 3)
        varint(value)
    }

    mutating func int64Field(_ field: UInt64, _ value: Int64) { varintField(field, UInt64(bitPattern: value)) }

    mutating func stringField(_ field: UInt64, _ value: String) {
        guard !value.isEmpty else { return }
        var value = value
        varint(field << 3 | 2)
        value.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            (base + at).copyMemory(from: utf8.baseAddress!, byteCount: utf8.count)
            at += utf8.count
        }
    }

    /// The readable bytes of `buffer`, as they are.
    mutating func copy(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { bytes in
            if let source = bytes.baseAddress { (base + at).copyMemory(from: source, byteCount: bytes.count) }
            at += bytes.count
        }
    }

    /// A submessage's key and length; its fields follow.
    mutating func messageHeader(_ field: UInt64, size: Int) {
        varint(field << 3 | 2)
        varint(UInt64(size))
    }

    /// A tally.v1.Balance's fields.
    mutating func fields(of balance: Balance) {
        let account = balance.account
        stringField(1, balance.userID)
        int64Field(2, account.available)
        int64Field(3, account.committed)
        int64Field(4, account.totalEarned)
        int64Field(5, account.totalSpent)
        varintField(6, account.version)
        int64Field(7, account.createdAt)
        int64Field(8, account.updatedAt)
    }

    /// A tally.v1.UsageStatus's fields; `date` is `status.date.description`, made once by the caller.
    mutating func fields(of status: UsageStatus, date: String) {
        stringField(1, status.userID)
        stringField(2, date)
        int64Field(3, status.used)
        int64Field(4, status.reserved)
        int64Field(5, status.limit)
        int64Field(6, status.remaining)
        int64Field(7, status.resetsAt)
        stringField(8, status.tier.value)
        varintField(9, status.shadow ? 1 : 0)
        int64Field(10, status.shadowRefusals)
    }
}
