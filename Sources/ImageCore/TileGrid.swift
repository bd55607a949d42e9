/// Square tiles of `tileSize` over an image, row by row; tiles on the right
/// and bottom edges are smaller when the size does not divide the image.
public struct TileGrid: Sendable, Hashable {
    public let width: Int
    public let height: Int
    public let tileSize: Int

    public init(width: Int, height: Int, tileSize: Int) {
        precondition(width > 0 && height > 0 && tileSize > 0)
        self.width = width
        self.height = height
        self.tileSize = tileSize
    }

    public var columns: Int { (width + tileSize - 1) / tileSize }
    public var rows: Int { (height + tileSize - 1) / tileSize }
    public var count: Int { columns * rows }

    /// The rectangle of tile `index` (row-major).
    public func rect(_ index: Int) -> Rect {
        precondition(index >= 0 && index < count)
        let col = index % columns, row = index / columns
        let x = col * tileSize, y = row * tileSize
        return Rect(x: x, y: y, width: min(tileSize, width - x), height: min(tileSize, height - y))
    }

    public var rects: [Rect] { (0..<count).map(rect) }
}
