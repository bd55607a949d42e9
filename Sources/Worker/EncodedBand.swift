import ImageCodecs
import ImageCore

/// Full-width rows of a stage's output encoded as a band of the result
/// (``JPEGBands``, ``PNGBands``): what ranks gather for rank 0 to join.
enum EncodedBand {
    case jpeg(y: Int, bytes: [UInt8])
    case png(PNGBands.Band)

    /// Whether results in `format` are joined from bands.
    static func joins(_ format: ImageFormat) -> Bool { format == .jpeg || format == .png }

    /// Rows a band must start at a multiple of.
    static func step(_ format: ImageFormat, shape: Shape) -> Int {
        format == .png ? PNGBands.segmentRows(width: shape.width, channels: shape.channels) : JPEGBands.rowAlignment
    }

    /// `image`, rows `y...` of an image of `shape`, encoded.
    init(_ image: Image, y: Int, of shape: Shape, as output: OutputEncoding) throws(CodecError) {
        if output.format == .png {
            self = .png(try PNGBands.compress(image, y: y, imageHeight: shape.height, level: output.pngLevel))
        } else {
            self = .jpeg(y: y, bytes: try Codec.encode(image, as: .jpeg, quality: output.quality))
        }
    }

    var y: Int {
        switch self {
        case let .jpeg(y, _): return y
        case let .png(band): return band.y
        }
    }

    /// The band as it stands in the result (it does not depend on the other
    /// bands), and what rank 0 needs of it to join the result around it.
    func parted(imageHeight: Int) throws(CodecError) -> (body: [UInt8], summary: Summary) {
        switch self {
        case let .jpeg(y, bytes):
            let head = y == 0 ? try JPEGBands.head(of: bytes, height: imageHeight) : []
            let body = try JPEGBands.body(of: bytes, y: y)
            return (body, .jpeg(y: y, head: head, count: body.count))
        case let .png(band):
            return (band.data, .png(PNGBands.Summary(band), count: band.data.count))
        }
    }

    /// What rank 0 needs of a band stored apart: its rows, its size, and
    /// what the result's head (JPEG: the top band's headers) and tail (PNG:
    /// the Adler-32) are made from.
    enum Summary {
        case jpeg(y: Int, head: [UInt8], count: Int)
        case png(PNGBands.Summary, count: Int)

        var y: Int {
            switch self {
            case let .jpeg(y, _, _): return y
            case let .png(band, _): return band.y
            }
        }

        var count: Int {
            switch self {
            case let .jpeg(_, _, count), let .png(_, count): return count
            }
        }

        func write(to w: inout ByteWriter) {
            switch self {
            case let .jpeg(y, head, count):
                w.int(0); w.int(y); w.int(count); w.data(head)
            case let .png(band, count):
                w.int(1); w.int(band.y); w.int(count); w.int(band.rows); w.int(Int(band.adler)); w.int(band.filteredCount)
            }
        }

        init(from r: inout ByteReader) throws {
            let kind = try r.int(), y = try r.int(), count = try r.int()
            if kind == 0 {
                self = .jpeg(y: y, head: try r.data(), count: count)
            } else {
                let rows = try r.int(), adler = UInt32(truncatingIfNeeded: try r.int()), filtered = try r.int()
                self = .png(PNGBands.Summary(y: y, rows: rows, adler: adler, filteredCount: filtered), count: count)
            }
        }
    }

    /// How a result of `shape` is joined from the bands `summaries` tell of
    /// (in any order; a band told twice, encoded twice, counts once): the
    /// bands' first rows in order, between a head and a tail.
    static func frame(_ summaries: [Summary], shape: Shape) throws(CodecError) -> Frame {
        var byRow: [Int: Summary] = [:]
        for summary in summaries where byRow[summary.y] == nil { byRow[summary.y] = summary }
        let rows = byRow.keys.sorted()
        let ordered = rows.map { byRow[$0]! }
        let counts = ordered.map(\.count)
        var pngs: [PNGBands.Summary] = []
        for case let .png(band, _) in ordered { pngs.append(band) }
        if pngs.isEmpty {
            try JPEGBands.checkOrder(rows, height: shape.height)
            guard case let .jpeg(_, head, _)? = ordered.first else { throw CodecError(.encodeFailed, "no JPEG band at row 0") }
            return Frame(head: head, rows: rows, counts: counts, tail: JPEGBands.tail)
        }
        guard pngs.count == ordered.count else { throw CodecError(.encodeFailed, "JPEG and PNG bands of one image") }
        return Frame(head: try PNGBands.head(width: shape.width, height: shape.height, channels: shape.channels), rows: rows,
                     counts: counts, tail: try PNGBands.tail(of: pngs, height: shape.height))
    }

    /// The result is `head`, the bands at `rows` in order (`counts` bytes each), then `tail`.
    struct Frame {
        var head: [UInt8]
        let rows: [Int]
        let counts: [Int]
        let tail: [UInt8]
        var count: Int { head.count + counts.reduce(0, +) + tail.count }
    }
}

/// How a job's result is written: its format, JPEG/WebP/AVIF quality and PNG level.
struct OutputEncoding {
    let format: ImageFormat
    let quality: Int
    let pngLevel: Int

    func encode(_ image: Image) throws(CodecError) -> [UInt8] {
        try Codec.encode(image, as: format, quality: quality, pngLevel: pngLevel)
    }
}
