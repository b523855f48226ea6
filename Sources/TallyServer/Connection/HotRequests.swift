import NIOCore
import TallyLedger
import TallyWire

/// GetBalance, Usage/Check and Usage/Consume requests read straight from the frame's bytes:
/// the envelope's and the payload's few fields, with no swift-protobuf message, no Data for the
/// payload, and the method found by its bytes. Anything else (another method, an unknown or
/// repeated field, a wire type or value out of place, bytes that are not UTF-8, an invalid id, a
/// role that may not call it, call id 0) gives nil, and the general path (swift-protobuf and
/// CallDecoding) decides, with its answers: this path only ever takes what that one would accept
/// in the same way, which `HotRequestTests` checks on random and damaged frames.
enum HotRequests {
    private static let hot: [(name: [UInt8], method: Method)] = [Method.consume, .getBalance, .checkUsage].map {
        (Array($0.rawValue.utf8), $0)
    }

    static func decode(_ frame: ByteBuffer, role: Role) -> WriterCall? {
        frame.withUnsafeReadableBytes { bytes in decode(bytes, role: role) }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, role: Role) -> WriterCall? {
        var envelope = Fields(bytes)
        var callID: UInt64 = 0, version: UInt64 = 0, timeout: UInt64 = 0
        var method: Method?
        var payload: UnsafeRawBufferPointer?
        var seen: UInt8 = 0
        while let field = envelope.next() {
            guard field.number >= 1, field.number <= 5, seen & (1 << field.number) == 0 else { return nil }
            seen |= 1 << field.number
            switch (field.number, field.value) {
            case (1, .varint(let value)): callID = value
            case (2, .varint(let value)): version = value
            case (3, .bytes(let name)):
                guard let found = hot.first(where: { $0.name.elementsEqual(name) }) else { return nil }
                method = found.method
            case (4, .varint(let value)): timeout = value
            case (5, .bytes(let bytes)): payload = bytes
            default: return nil
            }
        }
        guard envelope.isAtEnd, callID != 0, let method, role.permits(method.access),
            version <= UInt32.max, timeout <= UInt32.max, WireProtocol.supportedVersions.contains(UInt32(version))
        else { return nil }
        var body = Fields(payload ?? UnsafeRawBufferPointer(start: nil, count: 0))
        var userID = "", key = ""
        var tokens: Int64 = 0
        seen = 0
        while let field = body.next() {
            guard field.number >= 1, field.number <= (method == .consume ? 3 : 1), seen & (1 << field.number) == 0 else { return nil }
            seen |= 1 << field.number
            switch (field.number, field.value) {
            case (1, .bytes(let text)):
                guard let text = String(validating: text, as: UTF8.self) else { return nil }
                userID = text
            case (2, .varint(let value)): tokens = Int64(bitPattern: value)
            case (3, .bytes(let text)):
                guard let text = String(validating: text, as: UTF8.self) else { return nil }
                key = text
            default: return nil
            }
        }
        guard body.isAtEnd else { return nil }
        let operation: WriterCall.Operation
        switch method {
        case .consume: operation = .apply(.consume(Consume(userID: userID, tokens: tokens, idempotencyKey: key)))
        case .getBalance, .checkUsage:
            guard Validation.userID(userID) == nil else { return nil }
            operation = method == .getBalance ? .balance(userID: userID) : .usageStatus(userID: userID)
        default: return nil
        }
        return WriterCall(
            callID: callID, method: method, deadline: CallDecoding.deadline(timeoutMs: UInt32(timeout)), operation: operation)
    }

    /// Protobuf fields read in order from raw bytes; `next` is nil at the end, or at bytes that
    /// are not a whole field of wire type 0 or 2 (then `isAtEnd` is false).
    struct Fields {
        enum Value { case varint(UInt64), bytes(UnsafeRawBufferPointer) }
        let bytes: UnsafeRawBufferPointer
        var at = 0
        var failed = false

        init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        var isAtEnd: Bool { !failed && at == bytes.count }

        mutating func next() -> (number: Int, value: Value)? {
            guard at < bytes.count else { return nil }  // the end
            guard let tag = varint(), tag >> 3 <= UInt64(Int32.max) else { return fail() }
            switch tag & 7 {
            case 0:
                guard let value = varint() else { return fail() }
                return (Int(tag >> 3), .varint(value))
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count - at) else { return fail() }
                let start = at
                at += Int(length)
                return (Int(tag >> 3), .bytes(UnsafeRawBufferPointer(rebasing: bytes[start..<at])))
            default:
                return fail()
            }
        }

        private mutating func fail() -> (number: Int, value: Value)? {
            failed = true
            return nil
        }

        /// A varint of at most 10 bytes whose last byte fits (else nil).
        private mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 70, by: 7) {
                guard at < bytes.count else { return nil }
                let byte = bytes[at]
                at += 1
                if shift == 63, byte > 1 { return nil }
                value |= UInt64(byte & 0x7F) << UInt64(shift)
                if byte < 0x80 { return value }
            }
            return nil
        }
    }
}
