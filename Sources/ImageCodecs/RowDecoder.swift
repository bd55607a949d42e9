import ImageCore

/// Decodes an image's rows top to bottom: the rows of a band can be had
/// without keeping the rows above it (JPEG entropy-decodes them without
/// converting them; PNG has to inflate them). Rows read after a skip equal
/// the same rows of a full decode.
public final class RowDecoder {
    public let info: ImageInfo
    /// The next row `read` returns.
    public private(set) var nextRow = 0
    private let source: SourceBytes?
    private let backend: any RowBackend
    /// To sRGB through the file's RGB profile, when asked and it has one.
    private let colour: ColourTransform?

    /// Opens a decoder over `source`, after checking its header against `limits`.
    /// - Parameter toSRGB: convert RGB pixels to sRGB through the file's ICC
    ///   profile (CMYK JPEGs are always converted; gray is left as it is).
    /// - Parameter shrink: a JPEG is shrunk by 2, 4 or 8 in the DCT domain (``ShrinkOnLoad``).
    public convenience init(_ source: SourceBytes, limits: DecodeLimits = .default, toSRGB: Bool = false,
                            shrink: Int = 1) throws(CodecError) {
        try self.init(source.raw, keeping: source, limits: limits, toSRGB: toSRGB, shrink: shrink)
    }

    /// A decoder for rows from `row` down: a JPEG with restart markers
    /// (`restarts`) is decoded from the last restart point far enough above
    /// it, and ``nextRow`` starts there; other files from the top.
    convenience init(_ source: SourceBytes, limits: DecodeLimits, toSRGB: Bool, shrink: Int, from row: Int,
                     restarts: JPEGRestarts?) throws(CodecError) {
        try self.init(source.raw, keeping: source, limits: limits, toSRGB: toSRGB, shrink: shrink, from: row, restarts: restarts)
    }

    /// - Parameter keeping: owner of `bytes`, kept alive as long as the decoder.
    init(_ bytes: UnsafeRawBufferPointer, keeping: SourceBytes?, limits: DecodeLimits, toSRGB: Bool = false,
         shrink: Int = 1, from row: Int = 0, restarts: JPEGRestarts? = nil) throws(CodecError) {
        guard [1, 2, 4, 8].contains(shrink) else { throw CodecError(.corrupt, "shrink-on-load must be 1, 2, 4 or 8, not \(shrink)") }
        let full = try Codec.probe(bytes)
        try limits.check(full)
        let header = shrink == 1 ? full : try Codec.probe(bytes, shrink: shrink)
        colour = toSRGB && header.channels >= 3
            ? ColourTransform(profile: Metadata.read(Array(bytes)).icc, input: .rgb(alpha: header.channels == 4)) : nil
        switch header.format {
        case .png: backend = try PNGCodec.Decoder(bytes)
        case .jpeg:
            if let restarts, let start = restarts.start(before: row, shrink: shrink) {
                backend = try JPEGCodec.Decoder(bytes, shrink: shrink, from: (restarts, start))
                nextRow = start.row / shrink
            } else {
                backend = try JPEGCodec.Decoder(bytes, shrink: shrink)
            }
        case .webp: backend = try WebPCodec.Decoder(bytes, info: header)
        case .avif: backend = try AVIFCodec.Decoder(bytes, info: header)
        }
        info = header
        source = keeping
    }

    public var rowBytes: Int { info.width * info.channels }

    /// Decodes and drops the next `count` rows.
    public func skip(_ count: Int) throws(CodecError) {
        guard count > 0 else { return }
        try check(count)
        try backend.skip(count)
        nextRow += count
    }

    /// Decodes the next `count` rows into `buffer` (`count * rowBytes` bytes).
    /// - Parameters:
    ///   - count: rows to read.
    ///   - buffer: room for `count * rowBytes` bytes.
    public func read(_ count: Int, into buffer: UnsafeMutablePointer<UInt8>) throws(CodecError) {
        guard count > 0 else { return }
        try check(count)
        try backend.read(count, into: buffer)
        colour?.apply(buffer, to: buffer, count: count * info.width)
        nextRow += count
    }

    /// The next row.
    public func readRow() throws(CodecError) -> [UInt8] {
        var failure: CodecError?
        let row = [UInt8](unsafeUninitializedCapacity: rowBytes) { buffer, initialized in
            do throws(CodecError) { try read(1, into: buffer.baseAddress!) } catch { failure = error }
            initialized = rowBytes
        }
        if let failure { throw failure }
        return row
    }

    /// Every row left, as an image (for a decoder that has read nothing: the whole image).
    public func readImage() throws(CodecError) -> Image {
        let rows = info.height - nextRow
        var failure: CodecError?
        let image = Image(width: info.width, height: rows, channels: info.channels) { p in
            do throws(CodecError) { try read(rows, into: p) } catch { failure = error }
        }
        if let failure { throw failure }
        return image
    }

    private func check(_ count: Int) throws(CodecError) {
        guard nextRow + count <= info.height else {
            throw CodecError(.corrupt, "asked for rows up to \(nextRow + count) of an image \(info.height) rows high")
        }
    }
}

/// One C decoder, as the codec files wrap them.
protocol RowBackend: AnyObject {
    func skip(_ count: Int) throws(CodecError)
    func read(_ count: Int, into buffer: UnsafeMutablePointer<UInt8>) throws(CodecError)
}
