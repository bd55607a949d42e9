/// A rectangle of pixels: `x..<x+width` by `y..<y+height`.
public struct Rect: Sendable, Hashable, CustomStringConvertible {
    public var x: Int
    public var y: Int
    public var width: Int
    public var height: Int

    /// - Parameters:
    ///   - x: left edge.
    ///   - y: top edge.
    ///   - width: its width.
    ///   - height: its height.
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    /// The rows it covers.
    public var rows: Range<Int> { y..<maxY }
    public var isEmpty: Bool { width <= 0 || height <= 0 }
    public var area: Int { width * height }

    public func contains(_ other: Rect) -> Bool {
        other.x >= x && other.y >= y && other.maxX <= maxX && other.maxY <= maxY
    }

    /// This rectangle with `dx` columns taken off left and right and `dy` rows
    /// off top and bottom; negative values grow it (a halo).
    /// - Parameters:
    ///   - dx: columns taken off each side.
    ///   - dy: rows taken off each side.
    public func insetBy(dx: Int, dy: Int) -> Rect {
        Rect(x: x + dx, y: y + dy, width: width - 2 * dx, height: height - 2 * dy)
    }

    /// This rectangle grown by `margin` on every side.
    public func expanded(by margin: Int) -> Rect { insetBy(dx: -margin, dy: -margin) }

    /// The part of this rectangle inside `other` (empty rectangles have zero size).
    public func intersection(_ other: Rect) -> Rect {
        let x0 = max(x, other.x), y0 = max(y, other.y)
        let x1 = min(maxX, other.maxX), y1 = min(maxY, other.maxY)
        return Rect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }

    public var description: String { "\(width)x\(height)+\(x)+\(y)" }
}

/// Pixels of a rectangle of a larger image: `image` holds the pixels of `rect`,
/// whose coordinates are those of the whole image.
public struct Region: Sendable, Equatable {
    public var image: Image
    public var x: Int
    public var y: Int

    /// - Parameters:
    ///   - image: the pixels.
    ///   - x: where its left edge is in the whole image.
    ///   - y: where its top edge is.
    public init(image: Image, x: Int, y: Int) {
        self.image = image
        self.x = x
        self.y = y
    }

    public var rect: Rect { Rect(x: x, y: y, width: image.width, height: image.height) }

    /// The pixels of `sub`, which must lie inside this region.
    public func cropped(to sub: Rect) -> Region {
        if sub == rect { return self }
        let local = Rect(x: sub.x - x, y: sub.y - y, width: sub.width, height: sub.height)
        return Region(image: image.cropped(to: local), x: sub.x, y: sub.y)
    }
}
