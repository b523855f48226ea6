import NIOCore
import SwiftProtobuf

// Lets swift-protobuf decode straight from a frame's ByteBuffer (and encode into one) without
// copying through [UInt8].
extension ByteBuffer: @retroactive SwiftProtobufContiguousBytes {
    public init(repeating: UInt8, count: Int) {
        self = ByteBufferAllocator().buffer(repeating: repeating, count: count)
    }

    public init<S: Sequence>(_ sequence: S) where S.Element == UInt8 {
        self = ByteBufferAllocator().buffer(bytes: sequence)
    }

    public var count: Int { readableBytes }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeReadableBytes(body)
    }

    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeMutableReadableBytes(body)
    }
}
