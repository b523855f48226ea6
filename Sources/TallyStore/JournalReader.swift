import Glibc

/// Reads journal records in sequence order from the segment files, beside the live journal that
/// writes them: the change feed's source (Admin/Changes). It reads only records the caller says
/// are durable (`through`), so it never meets a record being written, only the zeros the journal
/// writes ahead (JournalSegment) past the last one. A segment removed while it is read stays
/// readable through the open descriptor; one removed before it was opened means the feed fell
/// behind the journal's pruning (`Problem.pruned`).
public struct JournalReader: ~Copyable {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        /// No segment holds record `sequence` any more: the journal before `oldestFirst` (the
        /// oldest segment's first record) was removed after a snapshot covered it.
        case pruned(sequence: UInt64, oldestFirst: UInt64?)
        /// The files are not a journal the reader can follow (damage, a gap).
        case damaged(String)

        public var description: String {
            switch self {
            case .pruned(let sequence, let oldest):
                "record \(sequence) is no longer in the journal (its oldest segment starts at \(oldest.map(String.init) ?? "none"))"
            case .damaged(let why): why
            }
        }
    }

    private let directory: StoreDirectory
    private var fd: Int32 = -1
    private var segmentName = ""
    /// Where the next record starts in the open segment.
    private var offset = 0
    /// The sequence of the next record to read.
    public private(set) var nextSequence: UInt64
    /// What one pread takes: a live feed reads every few milliseconds, so the buffer is kept,
    /// not allocated and zeroed each time.
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)

    /// A reader whose first record is the one after `after` (0: the journal's first).
    public init(dataDirectory: StoreDirectory, after: UInt64) throws {
        guard let journal = try dataDirectory.subdirectory(JournalSegment.directoryName, create: false) else {
            throw Problem.pruned(sequence: after + 1, oldestFirst: nil)
        }
        directory = journal
        nextSequence = after + 1
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// The segments' first sequences, oldest first.
    public static func segments(in dataDirectory: StoreDirectory) throws -> [UInt64] {
        guard let journal = try dataDirectory.subdirectory(JournalSegment.directoryName, create: false) else { return [] }
        return try journal.names().compactMap(JournalSegment.firstSequence(ofFileNamed:)).sorted()
    }

    /// The next records, in order, up to record `through` (durable ones only) and at most `limit`.
    public mutating func read(through: UInt64, limit: Int) throws -> [JournalRecord] {
        var records: [JournalRecord] = []
        if fd < 0, nextSequence <= through { try openSegment(holding: nextSequence) }
        while records.count < limit, nextSequence <= through {
            let chunk = buffer.count
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, chunk, off_t(offset)) }
            guard got >= 0 else { throw Problem.damaged("cannot read \(directory.path(of: segmentName)): \(String(cString: strerror(errno)))") }
            let slice = buffer[0..<got]
            var at = 0
            scan: while records.count < limit, nextSequence <= through {
                switch JournalRecord.read(slice[at...]) {
                case .record(let record, let size):
                    guard record.sequence == nextSequence else {
                        throw Problem.damaged(
                            "\(directory.path(of: segmentName)) at offset \(offset + at): record \(record.sequence) where \(nextSequence) belongs")
                    }
                    records.append(record)
                    nextSequence += 1
                    at += size
                case .truncated where at == 0 && got == chunk:
                    // One record longer than the buffer: read it whole next time round.
                    buffer = [UInt8](repeating: 0, count: chunk * 2)
                    break scan
                case .truncated, .damaged:
                    // The end of what this segment holds (its end, or the zeros written ahead):
                    // a durable record that is not here starts the next segment.
                    if at == 0 { try openNext() }
                    break scan
                }
            }
            offset += at
        }
        return records
    }

    /// Opens the segment whose first record is `sequence`'s (the newest starting at or before
    /// it), and reads up to it.
    private mutating func openSegment(holding sequence: UInt64) throws {
        let firsts = try directory.names().compactMap(JournalSegment.firstSequence(ofFileNamed:)).sorted()
        guard let first = firsts.last(where: { $0 <= sequence }) else {
            throw Problem.pruned(sequence: sequence, oldestFirst: firsts.first)
        }
        try open(first)
        nextSequence = first
        while nextSequence < sequence {
            guard !(try read(through: sequence - 1, limit: 4_096)).isEmpty else {
                throw Problem.damaged("\(directory.path(of: segmentName)) ends at record \(nextSequence - 1), before \(sequence - 1)")
            }
        }
    }

    /// The segment that starts with the next record: the journal starts a new one at its next
    /// sequence, so a durable record past the end of one is the first of another.
    private mutating func openNext() throws {
        close(fd)
        fd = -1
        let name = JournalSegment.fileName(firstSequence: nextSequence)
        guard try directory.names().contains(name) else {
            throw Problem.damaged("record \(nextSequence) is durable but neither in \(directory.path(of: segmentName)) nor in a segment of its own")
        }
        try open(nextSequence)
    }

    private mutating func open(_ first: UInt64) throws {
        let name = JournalSegment.fileName(firstSequence: first)
        let opened = directory.openFile(name, O_RDONLY)
        guard opened >= 0 else {
            if errno == ENOENT { throw Problem.pruned(sequence: first, oldestFirst: nil) }
            throw Problem.damaged("cannot open \(directory.path(of: name)): \(String(cString: strerror(errno)))")
        }
        var header = [UInt8](repeating: 0, count: JournalSegment.headerBytes)
        let got = header.withUnsafeMutableBytes { pread(opened, $0.baseAddress, JournalSegment.headerBytes, 0) }
        guard got >= 16, case .success(let parsed) = JournalSegment.header(of: Array(header[0..<got])) else {
            close(opened)
            throw Problem.damaged("\(directory.path(of: name)) has no journal header")
        }
        if fd >= 0 { close(fd) }
        fd = opened
        segmentName = name
        offset = parsed.bytes
    }
}
