import Glibc

/// The command line's arguments as the bytes the shell passed. Swift's `CommandLine.arguments`
/// repairs invalid UTF-8 into U+FFFD before any parser sees it, so `tally credit $'\xff' 5`
/// credited a user named "\u{FFFD}" and two different bad keys became one. tally refuses
/// them instead, naming the argument, before anything is sent.
enum ArgumentBytes {
    /// The first argument (1-based, after the program name) that is not valid UTF-8, with a
    /// printable rendering of its bytes; nil when every argument is valid.
    static func firstInvalid(
        count: Int32 = CommandLine.argc, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = CommandLine.unsafeArgv
    ) -> (index: Int, shown: String)? {
        guard count > 1 else { return nil }
        for index in 1..<Int(count) {
            guard let pointer = argv[index] else { continue }
            let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt8.self), count: strlen(pointer))
            if String(validating: bytes, as: UTF8.self) == nil {
                return (index, bytes.map { $0 < 0x80 && $0 >= 0x20 && $0 != 0x5C ? String(UnicodeScalar($0)) : "\\x" + hex($0) }.joined())
            }
        }
        return nil
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
    }
}
