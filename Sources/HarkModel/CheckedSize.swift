/// Sizes computed from numbers a file declares, with every multiplication checked: a shape
/// such as `[2^62, 4]` is an error, never an overflow trap or a wrapped-around small size.
enum CheckedSize {
    /// The number of elements of `shape`; nil when a dimension is negative or the product
    /// does not fit in an `Int`.
    static func elements(_ shape: [Int]) -> Int? {
        var count = 1
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            count = product
        }
        return count
    }

    /// The bytes `shape` takes at `elementSize` bytes an element; nil on overflow.
    static func bytes(_ shape: [Int], elementSize: Int) -> Int? {
        guard let count = elements(shape) else { return nil }
        let (product, overflow) = count.multipliedReportingOverflow(by: elementSize)
        return overflow ? nil : product
    }

    /// `value` as an `Int` when it is a whole number in `range` (a stored attribute such as a
    /// head count); nil for NaN, infinities, fractions and values out of range.
    static func integer(_ value: Float, in range: ClosedRange<Int>) -> Int? {
        guard let whole = Int(exactly: value), range.contains(whole) else { return nil }
        return whole
    }
}
