/// A string compared, hashed and ordered by its UTF-8 bytes.
///
/// Swift's `String ==` treats canonically equivalent spellings ("café" precomposed and
/// decomposed) as equal. Ids arrive on the wire as bytes, and two different byte strings must
/// never share an account or an idempotency key, so the Ledger keys its state with this.
///
/// As a property wrapper (`@ExactString var userID: String`) it types a command's string
/// fields, so the `==` the compiler writes for a command compares them byte for byte: whether a
/// retry is "the same request" can never hinge on a hand-written list of fields.
@propertyWrapper
public struct ExactString: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var value: String

    public init(_ value: String) {
        self.value = value
    }

    public init(wrappedValue: String) {
        self.value = wrappedValue
    }

    public var wrappedValue: String {
        get { value }
        set { value = newValue }
    }

    public init(stringLiteral value: String) {
        self.value = value
    }

    public static func == (lhs: ExactString, rhs: ExactString) -> Bool {
        guard lhs.value.utf8.count == rhs.value.utf8.count else { return false }
        var a = lhs.value, b = rhs.value  // withUTF8 may make a bridged string contiguous
        return a.withUTF8 { a in b.withUTF8 { b in a.elementsEqual(b) } }
    }

    public func hash(into hasher: inout Hasher) {
        var value = value
        value.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    public static func < (lhs: ExactString, rhs: ExactString) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }

    public var description: String { value }
}

/// Byte-wise equality of two strings (see ExactString), without wrapping them.
@inline(__always)
func same(_ a: String, _ b: String) -> Bool {
    a.utf8.elementsEqual(b.utf8)
}
