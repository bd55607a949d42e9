/// Border rules: where a coordinate outside `0..<size` reads from.
///
/// Every neighbourhood operation maps coordinates of the *whole* image, never
/// of a tile, so that a tile's pixels do not depend on where the tile was cut.
public enum Border: Sendable {
    /// `dcb|abcd|cba`: OpenCV's default, BORDER_REFLECT_101.
    case reflect101
    /// `aaa|abcd|ddd`: BORDER_REPLICATE.
    case replicate

    /// The coordinate inside `0..<size` that `i` reads from.
    /// - Parameters:
    ///   - i: a coordinate, perhaps outside the image.
    ///   - size: the image's size along that axis.
    @inlinable
    public func index(_ i: Int, size: Int) -> Int {
        if i >= 0 && i < size { return i }
        switch self {
        case .replicate:
            return i < 0 ? 0 : size - 1
        case .reflect101:
            if size == 1 { return 0 }
            var j = i
            // Bounded: each pass moves j into or towards 0..<size by a full period.
            let period = 2 * (size - 1)
            j %= period
            if j < 0 { j += period }
            return j < size ? j : period - j
        }
    }

    /// For `count` coordinates starting at `start`, the offsets into a region
    /// that starts at `origin`: `index(start + k) - origin`.
    /// - Parameters:
    ///   - start: the first coordinate.
    ///   - count: how many.
    ///   - size: the image's size along that axis.
    ///   - origin: where the region starts, in image coordinates.
    @inlinable
    public func offsets(start: Int, count: Int, size: Int, origin: Int) -> [Int] {
        (0..<count).map { index(start + $0, size: size) - origin }
    }

    /// The smallest span of `0..<size` holding every coordinate that
    /// `lo..<hi` reads from.
    /// - Parameters:
    ///   - lo: first coordinate read.
    ///   - hi: one past the last.
    ///   - size: the image's size along that axis.
    @inlinable
    public func span(_ lo: Int, _ hi: Int, size: Int) -> Range<Int> {
        if lo >= 0 && hi <= size { return lo..<hi }
        var a = Int.max, b = Int.min
        let inLo = max(lo, 0), inHi = min(hi, size)
        if inLo < inHi { a = inLo; b = inHi - 1 }
        // One period of outside coordinates on each side already reaches every
        // place they can fold onto, so the loops stay short however wide the halo.
        let period = max(1, 2 * (size - 1))
        for i in lo..<max(lo, min(hi, 0, lo + period)) {
            let j = index(i, size: size); a = min(a, j); b = max(b, j)
        }
        for i in max(hi - period, size, lo)..<max(hi, size) {
            let j = index(i, size: size); a = min(a, j); b = max(b, j)
        }
        return a..<(b + 1)
    }
}
