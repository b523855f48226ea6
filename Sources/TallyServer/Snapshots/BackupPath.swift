import Glibc

/// Where a backup may be written: an absolute path, not yet taken, in an existing directory.
/// tallyd never overwrites a file for a client.
enum BackupPath {
    static func problem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "backup path must be absolute, got '\(path)'" }
        guard path.utf8.count <= 4_096 else { return "backup path is longer than 4096 bytes" }
        var info = stat()
        if lstat(path, &info) == 0 { return "\(path) already exists; tallyd does not overwrite files" }
        let parent = String(path[..<path.lastIndex(of: "/")!])
        guard stat(parent.isEmpty ? "/" : parent, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            return "directory \(parent) does not exist"
        }
        return nil
    }
}
