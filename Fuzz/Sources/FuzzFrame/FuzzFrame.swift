import NIOCore
import NIOEmbedded
import TallyWire

// Input: 2 bytes choose the frame limit, 1 byte seeds how the rest is cut into reads, and the
// rest is the byte stream a client sent. The stream goes through FrameDecoder inside a real
// ByteToMessageHandler (as on a connection), and what comes out is compared with a plain model
// of docs/protocol.md §2: frames in order, each within the limit, then at most one tooLarge.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrame(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    guard input.count >= 3 else { return 0 }
    let raw = Int(input[0]) << 8 | Int(input[1])
    // 0xFFFF stands for the default 4 MiB limit, so that large prefixes near it are tried too.
    let limit = raw == 0xFFFF ? Frame.defaultMaxBytes : raw
    var cuts = CutPoints(seed: input[2])
    let stream = Array(input[3...])

    let expected = model(stream, limit: limit)
    var frames: [[UInt8]] = []
    var failure: (any Error)?

    let channel = EmbeddedChannel()
    // finish() also runs the loop's remaining tasks; a bare close() leaks the pipeline.
    defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
    do {
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: limit)))
    } catch {
        fatalError("could not set up the channel: \(error)")
    }
    var offset = 0
    while offset < stream.count && failure == nil {
        let end = min(stream.count, offset + cuts.next())
        do {
            try channel.writeInbound(ByteBuffer(bytes: stream[offset..<end]))
        } catch {
            failure = error  // the handler stops decoding after an error; so does the model
        }
        while let frame = try? channel.readInbound(as: ByteBuffer.self) {
            frames.append(Array(frame.readableBytesView))
        }
        offset = end
    }
    if failure == nil {
        // End of stream: a partial frame is dropped, never delivered and never an error.
        do { _ = try channel.finish(acceptAlreadyClosed: false) } catch { failure = error }
        while let frame = try? channel.readInbound(as: ByteBuffer.self) {
            frames.append(Array(frame.readableBytesView))
        }
    }

    for frame in frames where frame.count > limit {
        fatalError("frame of \(frame.count) bytes delivered past the limit \(limit)")
    }
    guard frames == expected.frames else {
        fatalError("frames \(frames.map(\.count)) differ from the model's \(expected.frames.map(\.count))")
    }
    switch (failure, expected.tooLarge) {
    case (nil, nil):
        break
    case (let error as FrameError, let length?):
        guard error == .tooLarge(length: length, limit: limit) else {
            fatalError("got \(error), expected tooLarge(\(length), \(limit))")
        }
    default:
        fatalError("got error \(String(describing: failure)), expected tooLarge \(String(describing: expected.tooLarge))")
    }
    return 0
}

/// What a correct decoder yields: every complete frame up to the first over-limit prefix.
func model(_ stream: [UInt8], limit: Int) -> (frames: [[UInt8]], tooLarge: UInt32?) {
    var frames: [[UInt8]] = []
    var at = 0
    while stream.count - at >= 4 {
        let length = stream[at..<at + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        if Int(length) > limit { return (frames, length) }
        guard stream.count - at - 4 >= Int(length) else { break }
        frames.append(Array(stream[at + 4..<at + 4 + Int(length)]))
        at += 4 + Int(length)
    }
    return (frames, nil)
}

/// Read sizes from a tiny xorshift seeded by one byte: one-byte reads, header-splitting reads,
/// and reads that carry several frames all occur.
struct CutPoints {
    var state: UInt32
    init(seed: UInt8) { state = UInt32(seed) &* 2_654_435_761 | 1 }
    mutating func next() -> Int {
        state ^= state << 13
        state ^= state >> 17
        state ^= state << 5
        switch state % 4 {
        case 0: return 1
        case 1: return 1 + Int(state >> 8) % 5
        case 2: return 1 + Int(state >> 8) % 64
        default: return 1 + Int(state >> 8) % 4_096
        }
    }
}
