import Glibc

/// DATA/DIRECTORY_ID: the data directory's DirectoryID, as 32 hex digits and a newline.
public enum DirectoryIdentity {
    public static let fileName = "DIRECTORY_ID"

    /// Where a directory's id came from.
    public enum Found: Sendable, Equatable {
        /// DATA/DIRECTORY_ID names it.
        case recorded(DirectoryID)
        /// No DIRECTORY_ID file, but the snapshots and segments there name this one id (the file
        /// was lost): the directory keeps it.
        case adopted(DirectoryID)
        /// No DIRECTORY_ID file and no file naming an id: a new directory, or one written by a
        /// build before directory ids, whose files all belong to it.
        case none

        public var id: DirectoryID? {
            switch self {
            case .recorded(let id), .adopted(let id): id
            case .none: nil
            }
        }
    }

    /// The directory's id, without changing anything. Throws when DIRECTORY_ID is unreadable or
    /// damaged, or when it is missing and the files there name more than one directory: which
    /// of them is this one's is the operator's call.
    public static func find(in dataDirectory: StoreDirectory) throws -> Found {
        let path = dataDirectory.path(of: fileName)
        if let bytes = try DurableFile.read(fileName, in: dataDirectory) {
            let text = String(decoding: bytes, as: UTF8.self)
            guard let id = DirectoryID(hex: text.hasSuffix("\n") ? text.dropLast() : text[...]) else {
                throw StoreError("\(path) is damaged: it holds \(bytes.count) byte(s), not a directory id (32 hex digits). "
                    + "Write the id the directory's snapshots name (`tallyd verify` lists them) into it, or restore the directory from a backup.")
            }
            return .recorded(id)
        }
        var named: [DirectoryID: String] = [:]
        for snapshot in try SnapshotFile.list(in: dataDirectory) {
            if let id = try? SnapshotFile.header(of: snapshot.name, in: dataDirectory).directoryID {
                named[id] = dataDirectory.path(of: snapshot.name)
            }
        }
        if let journal = try dataDirectory.subdirectory(JournalSegment.directoryName, create: false) {
            for name in try journal.names() where JournalSegment.firstSequence(ofFileNamed: name) != nil {
                if let id = JournalSegment.directoryID(of: name, in: journal) { named[id] = journal.path(of: name) }
            }
        }
        switch named.count {
        case 0: return .none
        case 1: return .adopted(named.keys.first!)
        default:
            let list = named.sorted { $0.value < $1.value }.map { "\($0.value) names \($0.key)" }.joined(separator: "; ")
            throw StoreError("\(path) is missing and the files in \(dataDirectory.path) name \(named.count) different directories: \(list). "
                + "Move out the files that do not belong here (or write this directory's id into \(path)), then start again.")
        }
    }

    /// The directory's id, recording it in DATA/DIRECTORY_ID (durably) when the file is missing:
    /// an adopted id, or a new random one. Run by whoever holds the directory's lock.
    public static func establish(in dataDirectory: StoreDirectory) throws -> (id: DirectoryID, found: Found) {
        let found = try find(in: dataDirectory)
        if case .recorded(let id) = found { return (id, found) }
        let id = found.id ?? .random()
        try DurableFile.write(Array((id.description + "\n").utf8), to: fileName, in: dataDirectory)  // fsyncs the directory too
        return (id, found)
    }

    /// `find` for the directory at `path` (tools and tests).
    public static func find(in path: String) throws -> Found {
        try find(in: try StoreDirectory(opening: path))
    }

    /// `establish` for the directory at `path` (tools and tests).
    public static func establish(in path: String) throws -> (id: DirectoryID, found: Found) {
        try establish(in: try StoreDirectory(opening: path))
    }
}
