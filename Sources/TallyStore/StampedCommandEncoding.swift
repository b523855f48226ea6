import TallyLedger

/// The journal's hot records in protobuf's wire format without building a swift-protobuf
/// message: usage calls, spends and credits (without metadata). Building `StampedCommand` and
/// serializing it (two generic traversals, boxed storage copied on first set) was 15% of tallyd's
/// CPU under consumes with `--fsync always` (docs/decisions.md). Every other command, and these
/// with metadata (a map, whose order swift-protobuf decides), still go through swift-protobuf.
///
/// The bytes are the ones swift-protobuf writes for the same message (fields in number order,
/// proto3 defaults left out, a set submessage always written), which `StampedCommandEncodingTests`
/// checks against it for random commands; recovery decodes every record with swift-protobuf.
enum StampedCommandEncoding {
    /// Appends the payload of `record`; false (nothing appended) when it is not one of these.
    static func append(_ record: JournalRecord, to out: inout [UInt8]) -> Bool {
        var command = Fields()
        let field: Int
        switch record.command {
        case .consume(let consume):
            field = 4
            command.string(1, consume.userID)
            command.int64(2, consume.tokens)
            command.string(3, consume.idempotencyKey)
        case .reserve(let reserve):
            field = 5
            command.string(1, reserve.userID)
            command.int64(2, reserve.tokens)
            command.varint(3, UInt64(reserve.ttlMilliseconds))
            command.string(4, reserve.idempotencyKey)
        case .settle(let settle):
            field = 6
            command.varint(1, settle.reservationID)
            command.int64(2, settle.tokens)
            command.string(3, settle.idempotencyKey)
        case .release(let release):
            field = 7
            command.varint(1, release.reservationID)
            command.string(2, release.idempotencyKey)
        case .spend(let spend) where spend.metadata.isEmpty:
            field = 3
            command.string(1, spend.userID)
            command.int64(2, spend.amount)
            command.string(3, spend.reference)
            command.string(4, spend.memo)
            command.string(5, spend.idempotencyKey)
        case .credit(let credit) where credit.metadata.isEmpty:
            field = 2
            command.string(1, credit.userID)
            command.int64(2, credit.amount)
            command.varint(3, UInt64(credit.kind?.rawValue ?? 0))
            command.string(4, credit.reference)
            command.string(5, credit.memo)
            command.string(6, credit.idempotencyKey)
        default:
            return false
        }
        var stamped = Fields()
        swap(&stamped.bytes, &out)  // `out` keeps no second reference: appends stay in place
        defer { swap(&stamped.bytes, &out) }
        stamped.int64(1, record.timestamp)
        if field < 10 { stamped.message(field, command) }
        if let day = record.day {
            var date = Fields()
            date.int64(1, Int64(day.date.year))  // int32: negative values take ten bytes, as int64
            date.varint(2, UInt64(day.date.month))
            date.varint(3, UInt64(day.date.day))
            var usageDay = Fields()
            usageDay.message(1, date)
            usageDay.int64(2, day.startsAt)
            usageDay.int64(3, day.endsAt)
            stamped.message(10, usageDay)
        }
        if field > 10 { stamped.message(field, command) }
        if let origin = record.origin {
            var fields = Fields()
            fields.varint(1, UInt64(origin.uid))
            fields.varint(2, UInt64(origin.gid))
            fields.string(3, origin.role)
            fields.string(4, origin.method)
            stamped.message(30, fields)
        }
        return true
    }

    /// One message's fields, appended in the order written.
    struct Fields {
        var bytes: [UInt8]

        init() { bytes = [] }

        mutating func varint(_ field: Int, _ value: UInt64) {
            guard value != 0 else { return }
            key(field, wireType: 0)
            putVarint(value)
        }

        mutating func int64(_ field: Int, _ value: Int64) { varint(field, UInt64(bitPattern: value)) }

        mutating func string(_ field: Int, _ value: String) {
            guard !value.isEmpty else { return }
            key(field, wireType: 2)
            var value = value
            value.withUTF8 { utf8 in
                putVarint(UInt64(utf8.count))
                bytes.append(contentsOf: utf8)
            }
        }

        mutating func message(_ field: Int, _ message: Fields) {
            key(field, wireType: 2)
            putVarint(UInt64(message.bytes.count))
            bytes.append(contentsOf: message.bytes)
        }

        private mutating func key(_ field: Int, wireType: UInt64) { putVarint(UInt64(field) << 3 | wireType) }

        private mutating func putVarint(_ value: UInt64) {
            var value = value
            while value >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
                value >>= 7
            }
            bytes.append(UInt8(value))
        }
    }
}
