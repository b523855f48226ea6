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
        guard let field = field(of: record.command) else { return false }
        var stamped = Fields()
        swap(&stamped.bytes, &out)  // `out` keeps no second reference: appends stay in place
        defer { swap(&stamped.bytes, &out) }
        stamped.int64(1, record.timestamp)
        if field < 10 { stamped.message(field) { write(record.command, into: &$0) } }
        if let day = record.day {
            stamped.message(10) { usageDay in
                usageDay.message(1) { date in
                    date.int64(1, Int64(day.date.year))  // int32: negative values take ten bytes, as int64
                    date.varint(2, UInt64(day.date.month))
                    date.varint(3, UInt64(day.date.day))
                }
                usageDay.int64(2, day.startsAt)
                usageDay.int64(3, day.endsAt)
            }
        }
        if field > 10 { stamped.message(field) { write(record.command, into: &$0) } }
        if let origin = record.origin {
            stamped.message(30) {
                $0.varint(1, UInt64(origin.uid))
                $0.varint(2, UInt64(origin.gid))
                $0.string(3, origin.role)
                $0.string(4, origin.method)
            }
        }
        return true
    }

    /// The StampedCommand field of the commands encoded here; nil for the rest.
    private static func field(of command: Command) -> Int? {
        switch command {
        case .credit(let credit): credit.metadata.isEmpty ? 2 : nil
        case .spend(let spend): spend.metadata.isEmpty ? 3 : nil
        case .consume: 4
        case .reserve: 5
        case .settle: 6
        case .release: 7
        default: nil
        }
    }

    /// The request message's fields of a command `field(of:)` accepts.
    private static func write(_ command: Command, into fields: inout Fields) {
        switch command {
        case .credit(let credit):
            fields.string(1, credit.userID)
            fields.int64(2, credit.amount)
            fields.varint(3, UInt64(credit.kind?.rawValue ?? 0))
            fields.string(4, credit.reference)
            fields.string(5, credit.memo)
            fields.string(6, credit.idempotencyKey)
        case .spend(let spend):
            fields.string(1, spend.userID)
            fields.int64(2, spend.amount)
            fields.string(3, spend.reference)
            fields.string(4, spend.memo)
            fields.string(5, spend.idempotencyKey)
        case .consume(let consume):
            fields.string(1, consume.userID)
            fields.int64(2, consume.tokens)
            fields.string(3, consume.idempotencyKey)
        case .reserve(let reserve):
            fields.string(1, reserve.userID)
            fields.int64(2, reserve.tokens)
            fields.varint(3, UInt64(reserve.ttlMilliseconds))
            fields.string(4, reserve.idempotencyKey)
        case .settle(let settle):
            fields.varint(1, settle.reservationID)
            fields.int64(2, settle.tokens)
            fields.string(3, settle.idempotencyKey)
        case .release(let release):
            fields.varint(1, release.reservationID)
            fields.string(2, release.idempotencyKey)
        default:
            preconditionFailure("field(of:) encodes no other command")
        }
    }

    /// Fields appended in the order written, submessages in place.
    struct Fields {
        var bytes: [UInt8] = []

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

        /// A submessage written straight after its key: one byte is kept for its length, the
        /// common case (under 128 bytes), and widened afterwards if the body is longer. No
        /// buffer of its own, so a record costs no allocation beyond the journal's buffer.
        mutating func message(_ field: Int, _ body: (inout Fields) -> Void) {
            key(field, wireType: 2)
            let lengthAt = bytes.count
            bytes.append(0)
            body(&self)
            let length = bytes.count - lengthAt - 1
            if length < 0x80 {
                bytes[lengthAt] = UInt8(length)
            } else {
                var prefix = Fields()
                prefix.putVarint(UInt64(length))
                bytes.replaceSubrange(lengthAt...lengthAt, with: prefix.bytes)
            }
        }

        private mutating func key(_ field: Int, wireType: UInt64) { putVarint(UInt64(field) << 3 | wireType) }

        fileprivate mutating func putVarint(_ value: UInt64) {
            var value = value
            while value >= 0x80 {
                bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
                value >>= 7
            }
            bytes.append(UInt8(value))
        }
    }
}
