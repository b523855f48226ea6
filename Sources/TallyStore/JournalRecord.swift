import SwiftProtobuf
import TallyLedger
import TallyCodec
import TallyWire

/// One journal record: a command as the Writer applied it, with its sequence number.
///
///     length    u32 BE   payload bytes
///     checksum  u32 BE   CRC-32C of the sequence (8 bytes BE) and the payload
///     sequence  u64 BE   1, 2, 3, ... across the whole journal, never reused
///     payload   length bytes of tally.store.v1.StampedCommand
public struct JournalRecord: Equatable, Sendable {
    public static let headerBytes = 16
    /// A record longer than this is damage, not data (commands are a few hundred bytes).
    public static let maxPayloadBytes = 1 << 20

    public var sequence: UInt64
    public var command: Command
    public var timestamp: Timestamp
    /// The usage time zone's day the Writer stamped (usage commands only).
    public var day: UsageDay?
    /// Who attempted it, for the audit log (nil: not audited).
    public var origin: AuditOrigin?

    public init(sequence: UInt64, command: Command, timestamp: Timestamp, day: UsageDay? = nil, origin: AuditOrigin? = nil) {
        self.sequence = sequence
        self.command = command
        self.timestamp = timestamp
        self.day = day
        self.origin = origin
    }

    public func encode(into bytes: inout [UInt8]) throws {
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: Self.headerBytes))  // filled in below
        if !StampedCommandEncoding.append(self, to: &bytes) {
            do {
                bytes += try Tally_Store_V1_StampedCommand(command, at: timestamp, day: day, origin: origin).serializedBytes() as [UInt8]
            } catch {
                bytes.removeSubrange(start...)
                throw error
            }
        }
        let length = bytes.count - start - Self.headerBytes
        bytes.withUnsafeMutableBytes { all in
            all.storeBytes(of: UInt32(length).bigEndian, toByteOffset: start, as: UInt32.self)
            all.storeBytes(of: sequence.bigEndian, toByteOffset: start + 8, as: UInt64.self)
            // The checksum covers the sequence and the payload, which lie one after the other.
            let checksum = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: all[(start + 8)...]))
            all.storeBytes(of: checksum.bigEndian, toByteOffset: start + 4, as: UInt32.self)
        }
    }

    /// What reading a record at some offset found.
    public enum Read: Equatable {
        case record(JournalRecord, bytes: Int)
        /// Not enough bytes left for the record the header announces (or for a header).
        case truncated
        /// The bytes are there but are not a record: bad length, checksum or payload.
        case damaged(String)
    }

    /// The sequence and size of the record at the start of `bytes` when its length and checksum
    /// hold, without decoding its payload: recovery steps over the records a snapshot already
    /// holds this way (a segment's worth of them, decoded only to be dropped). nil: not a whole,
    /// intact record; `read` says what it is.
    public static func peek(_ bytes: ArraySlice<UInt8>) -> (sequence: UInt64, bytes: Int)? {
        guard case .success(let framed) = frame(bytes) else { return nil }
        return (framed.sequence, headerBytes + framed.payload.count)
    }

    /// The record's framing checked (length, then checksum), its payload not decoded.
    private static func frame(_ bytes: ArraySlice<UInt8>) -> Result<(sequence: UInt64, payload: ArraySlice<UInt8>), FrameProblem> {
        guard bytes.count >= headerBytes else { return .failure(.truncated) }
        let start = bytes.startIndex
        let length = Int(bigEndian(UInt32.self, bytes, at: start))
        guard length <= maxPayloadBytes else { return .failure(.damaged("length \(length) is over \(maxPayloadBytes)")) }
        guard bytes.count >= headerBytes + length else { return .failure(.truncated) }
        let sequence = bigEndian(UInt64.self, bytes, at: start + 8)
        let payload = bytes[(start + headerBytes)..<(start + headerBytes + length)]
        guard checksum(sequence: sequence, payload: payload) == bigEndian(UInt32.self, bytes, at: start + 4) else {
            return .failure(.damaged("checksum mismatch"))
        }
        return .success((sequence, payload))
    }

    private enum FrameProblem: Error {
        case truncated
        case damaged(String)
    }

    public static func read(_ bytes: ArraySlice<UInt8>) -> Read {
        let sequence: UInt64, payload: ArraySlice<UInt8>
        switch frame(bytes) {
        case .failure(.truncated): return .truncated
        case .failure(.damaged(let why)): return .damaged(why)
        case .success(let framed): (sequence, payload) = framed
        }
        let length = payload.count
        do {
            let stamped = try Tally_Store_V1_StampedCommand(serializedBytes: Array(payload))
            guard let command = stamped.ledgerCommand else { return .damaged("record holds no command") }
            let day = stamped.hasUsageDay ? stamped.usageDay.ledgerValue : nil
            if stamped.hasUsageDay && day == nil { return .damaged("record holds an impossible usage day") }
            return .record(
                JournalRecord(
                    sequence: sequence, command: command, timestamp: stamped.timestampUs, day: day,
                    origin: stamped.hasOrigin ? stamped.origin.ledgerValue : nil),
                bytes: headerBytes + length)
        } catch {
            return .damaged("payload does not decode: \(error)")
        }
    }

    static func checksum(sequence: UInt64, payload: ArraySlice<UInt8>) -> UInt32 {
        let seed = withUnsafeBytes(of: sequence.bigEndian) { CRC32C.checksum($0) }
        return payload.withUnsafeBytes { CRC32C.checksum($0, seed: seed) }
    }

    static func appendBigEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    static func bigEndian<T: FixedWidthInteger>(_: T.Type, _ bytes: ArraySlice<UInt8>, at offset: Int) -> T {
        var value: T = 0
        for byte in bytes[offset..<offset + MemoryLayout<T>.size] {
            value = value << 8 | T(byte)
        }
        return value
    }
}
