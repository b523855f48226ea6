import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import TallyWire

/// Replays the committed seed corpus of the FuzzFrame target (Fuzz/corpus/frame) through the
/// same check as the fuzzer, so the seeds stay valid inputs for it. The fuzzer found no crash in
/// FrameDecoder; an input it finds later goes here as its own test.
@Suite struct FrameFuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("../../Fuzz/corpus/frame").standardized

    static let seeds: [String] = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted()) ?? []

    @Test func corpusIsThere() {
        #expect(Self.seeds.count >= 5, "no seeds in \(Self.corpus.path)")
    }

    /// A seed is: 2 bytes frame limit (0xFFFF = the 4 MiB default), 1 byte the fuzzer uses to
    /// choose read sizes, then the stream. Here each stream is fed whole and byte by byte.
    @Test(arguments: seeds) func seedDecodesAsTheModelSays(name: String) throws {
        let input = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent(name)))
        try #require(input.count >= 3)
        let raw = Int(input[0]) << 8 | Int(input[1])
        let limit = raw == 0xFFFF ? Frame.defaultMaxBytes : raw
        let stream = Array(input[3...])
        let expected = model(stream, limit: limit)
        for chunk in [stream.count, 1] {
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: limit)))
            var frames: [[UInt8]] = []
            var failure: FrameError?
            for start in stride(from: 0, to: stream.count, by: max(chunk, 1)) where failure == nil {
                do {
                    try channel.writeInbound(ByteBuffer(bytes: stream[start..<min(stream.count, start + chunk)]))
                } catch let error as FrameError {
                    failure = error
                }
                while let frame = try channel.readInbound(as: ByteBuffer.self) { frames.append(Array(frame.readableBytesView)) }
            }
            _ = try? channel.finish(acceptAlreadyClosed: true)
            #expect(frames == expected.frames, "\(name), reads of \(chunk)")
            #expect(failure == expected.tooLarge.map { .tooLarge(length: $0, limit: limit) }, "\(name), reads of \(chunk)")
        }
    }

    /// Every complete frame up to the first over-limit length prefix (docs/protocol.md §2).
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
}
