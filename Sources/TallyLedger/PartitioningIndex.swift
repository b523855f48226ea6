/// A binary search over a sorted array, shared by the usage book's day lists. Named as
/// swift-algorithms names it; that package is not worth a dependency for one function.
extension Array {
    /// The first index whose element satisfies `isAtOrAfter`, for an array ordered so that
    /// it is false and then true (a binary search).
    func partitioningIndex(where isAtOrAfter: (Element) -> Bool) -> Int {
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if isAtOrAfter(self[middle]) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
