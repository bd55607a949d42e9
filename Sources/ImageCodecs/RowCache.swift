import ImageCore

/// The rows of an encoded image, decoded on demand and kept until dropped.
///
/// A worker rank holds its stage-0 input this way: it decodes the band its
/// tiles need, and more rows only when it steals a tile outside that band.
/// One decoder moves forward through the file; rows above it need a fresh
/// decoder, which skips down to them.
public final class RowCache {
    public let shape: Shape
    private let source: SourceBytes
    private let limits: DecodeLimits
    private var rows: [[UInt8]?]
    private var decoder: RowDecoder?
    /// Decoders opened so far (1 when every request moved forward).
    public private(set) var decodersOpened = 0
    /// Rows decoded and kept, and rows skipped over, so far.
    public private(set) var rowsDecoded = 0
    public private(set) var rowsSkipped = 0
    /// Rows the decoders went through, decoded or skipped: the image's height
    /// at most when requests only move down.
    public private(set) var rowsRead = 0
    private let toSRGB: Bool
    private let shrink: Int
    private let isJPEG: Bool
    /// Where a JPEG can be decoded from below its top, when it can; found
    /// (one pass over the file) the first time rows below the top are asked for.
    private lazy var restarts: JPEGRestarts? = isJPEG ? JPEGRestarts(source.raw) : nil

    /// - Parameter toSRGB: convert RGB pixels to sRGB through the file's ICC profile.
    /// - Parameter shrink: a JPEG is shrunk on load by this factor (``ShrinkOnLoad``).
    public init(_ source: SourceBytes, limits: DecodeLimits = .default, toSRGB: Bool = false, shrink: Int = 1) throws(CodecError) {
        self.toSRGB = toSRGB
        self.shrink = shrink
        let full = try Codec.probe(source.raw)
        try limits.check(full)
        let info = shrink == 1 ? full : try Codec.probe(source.raw, shrink: shrink)
        shape = Shape(width: info.width, height: info.height, channels: info.channels)
        self.source = source
        self.limits = limits
        rows = Array(repeating: nil, count: info.height)
        isJPEG = full.format == .jpeg
    }

    /// Rows held now, and the most held at once so far.
    public private(set) var rowsHeld = 0
    public private(set) var peakRowsHeld = 0

    /// Makes sure every row of `range` is decoded.
    public func load(_ range: Range<Int>) throws(CodecError) {
        let range = range.clamped(to: 0..<shape.height)
        guard let first = range.first(where: { rows[$0] == nil }) else { return }
        let end = range.last(where: { rows[$0] == nil })! + 1
        // A fresh decoder when the rows are above the current one, or below it
        // past a restart point: then it starts there instead of skipping.
        var reopen = decoder == nil || decoder!.nextRow > first
        if !reopen, first > decoder!.nextRow, let start = restarts?.start(before: first, shrink: shrink) {
            reopen = start.row / shrink > decoder!.nextRow
        }
        if reopen {
            decoder = try RowDecoder(source, limits: limits, toSRGB: toSRGB, shrink: shrink, from: first,
                                     restarts: first > 0 ? restarts : nil)
            decodersOpened += 1
        }
        let d = decoder!
        rowsSkipped += first - d.nextRow
        rowsRead += end - d.nextRow
        try d.skip(first - d.nextRow)
        for y in first..<end {
            let row = try d.readRow()
            if rows[y] == nil {
                rows[y] = row
                rowsDecoded += 1
                rowsHeld += 1
            }
        }
        peakRowsHeld = max(peakRowsHeld, rowsHeld)
    }

    /// The pixels of `rect`, decoding what is missing.
    public func region(_ rect: Rect) throws(CodecError) -> Region {
        try load(rect.rows)
        let channels = shape.channels
        let rowBytes = rect.width * channels
        let image = Image(width: rect.width, height: rect.height, channels: channels) { out in
            for y in 0..<rect.height {
                rows[rect.y + y]!.withUnsafeBufferPointer { row in
                    (out + y * rowBytes).update(from: row.baseAddress! + rect.x * channels, count: rowBytes)
                }
            }
        }
        return Region(image: image, x: rect.x, y: rect.y)
    }

    /// Frees every row outside `keep`, except the `margin` rows just above the
    /// forward decoder: a request reaching a little above it (a halo) then
    /// needs no fresh decoder.
    /// - Parameters:
    ///   - keep: the rows still needed.
    ///   - margin: rows kept beyond it on each side.
    public func drop(outside keep: Range<Int>, margin: Int = 0) {
        let cursor = decoder?.nextRow ?? 0
        let near = max(0, cursor - margin)..<cursor
        for y in rows.indices where rows[y] != nil && !keep.contains(y) && !near.contains(y) {
            rows[y] = nil
            rowsHeld -= 1
        }
    }

    /// Frees every row and the decoder.
    public func dropAll() {
        rows = Array(repeating: nil, count: shape.height)
        rowsHeld = 0
        decoder = nil
    }
}
