/// Tiles of `tileWidth` × `tileHeight` over an image, row by row; tiles on the
/// right and bottom edges are smaller when the size does not divide the image.
public struct TileGrid: Sendable, Hashable {
    public let width: Int
    public let height: Int
    public let tileWidth: Int
    public let tileHeight: Int

    /// - Parameters:
    ///   - width: the image's width.
    ///   - height: its height.
    ///   - tileWidth: a tile's width (the last column may be narrower).
    ///   - tileHeight: a tile's height (the last row may be shorter).
    public init(width: Int, height: Int, tileWidth: Int, tileHeight: Int) {
        precondition(width > 0 && height > 0 && tileWidth > 0 && tileHeight > 0)
        self.width = width
        self.height = height
        self.tileWidth = tileWidth
        self.tileHeight = tileHeight
    }

    /// Squares of `tileSize`.
    /// - Parameters:
    ///   - width: the image's width.
    ///   - height: its height.
    ///   - tileSize: a square tile's side.
    public init(width: Int, height: Int, tileSize: Int) {
        self.init(width: width, height: height, tileWidth: tileSize, tileHeight: tileSize)
    }

    public var columns: Int { (width + tileWidth - 1) / tileWidth }
    public var rows: Int { (height + tileHeight - 1) / tileHeight }
    public var count: Int { columns * rows }

    /// The rectangle of tile `index` (row-major).
    public func rect(_ index: Int) -> Rect {
        precondition(index >= 0 && index < count)
        let col = index % columns, row = index / columns
        let x = col * tileWidth, y = row * tileHeight
        return Rect(x: x, y: y, width: min(tileWidth, width - x), height: min(tileHeight, height - y))
    }

    public var rects: [Rect] { (0..<count).map(rect) }
}

/// How a stage's output is cut into tiles: squares, or full-width strips of
/// rows (each strip then holds whole rows of the output: a JPEG band when its
/// height is a multiple of 16).
public enum Tiling: Sendable, Hashable, CustomStringConvertible {
    case squares(Int)
    case strips(Int)

    /// - Parameters:
    ///   - width: the width of the image cut.
    ///   - height: its height.
    public func grid(width: Int, height: Int) -> TileGrid {
        switch self {
        case let .squares(side): return TileGrid(width: width, height: height, tileSize: side)
        case let .strips(rows): return TileGrid(width: width, height: height, tileWidth: width, tileHeight: rows)
        }
    }

    /// `256` for squares, `strips:64` for strips (as job records and the API write it).
    public var description: String {
        switch self {
        case let .squares(side): return String(side)
        case let .strips(rows): return "strips:\(rows)"
        }
    }

    public init?(_ text: String) {
        if text.hasPrefix("strips:"), let rows = Int(text.dropFirst(7)), rows > 0 { self = .strips(rows); return }
        guard let side = Int(text), side > 0 else { return nil }
        self = .squares(side)
    }

    /// Rows per strip, for strips.
    public var stripRows: Int? {
        if case let .strips(rows) = self { return rows }
        return nil
    }
}
