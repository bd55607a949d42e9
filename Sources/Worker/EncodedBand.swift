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

    var byteCount: Int {
        switch self {
        case let .jpeg(_, bytes): return bytes.count
        case let .png(band): return band.data.count
        }
    }

    func write(to w: inout ByteWriter) {
        switch self {
        case let .jpeg(y, bytes):
            w.int(0); w.int(y); w.data(bytes)
        case let .png(band):
            w.int(1); w.int(band.y); w.int(band.rows); w.int(Int(band.adler)); w.int(band.filteredCount); w.data(band.data)
        }
    }

    init(from r: inout ByteReader) throws {
        if try r.int() == 0 {
            self = .jpeg(y: try r.int(), bytes: try r.data())
        } else {
            let y = try r.int(), rows = try r.int(), adler = UInt32(truncatingIfNeeded: try r.int()), count = try r.int()
            self = .png(PNGBands.Band(y: y, rows: rows, data: try r.data(), adler: adler, filteredCount: count))
        }
    }

    /// The result from every band of an image of `shape`, in any order.
    static func join(_ bands: [EncodedBand], shape: Shape, pngLevel: Int) throws(CodecError) -> [UInt8] {
        var jpegs: [(y: Int, bytes: [UInt8])] = []
        var pngs: [PNGBands.Band] = []
        for band in bands {
            switch band {
            case let .jpeg(y, bytes): jpegs.append((y, bytes))
            case let .png(b): pngs.append(b)
            }
        }
        guard jpegs.isEmpty || pngs.isEmpty else { throw CodecError(.encodeFailed, "JPEG and PNG bands of one image") }
        if pngs.isEmpty { return try JPEGBands.join(jpegs.sorted { $0.y < $1.y }, height: shape.height) }
        return try PNGBands.join(pngs.sorted { $0.y < $1.y }, width: shape.width, height: shape.height, channels: shape.channels,
                                 level: pngLevel)
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
