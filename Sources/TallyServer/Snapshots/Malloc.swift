import Glibc

/// glibc's allocator. <malloc.h> is not in Swift's Glibc module, so its functions are looked
/// up by name (plain C signatures, no struct returned by value).
public enum Malloc {
    /// Gives free memory back to the system: at the top of each arena, and the whole free pages
    /// inside it. free() alone returns only the top, so after a trim of millions of audit
    /// entries or transactions scattered through the heap tallyd kept the memory (2.8 GiB
    /// resident where 1.0 GiB was in use: docs/benchmarks.md).
    public static func trim() {
        guard let symbol = dlsym(nil, "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)(0)
    }
}
