import Dispatch
import ImageCore

/// Reading and writing PNG, JPEG, WebP and AVIF. The format is always found from the
/// bytes, never from a file name.
public enum Codec {
    /// Format, size and channels from the header, without decoding pixels.
    /// - Parameter shrink: a JPEG's size when shrunk on load by this factor (``ShrinkOnLoad``).
    public static func probe(_ bytes: [UInt8], shrink: Int = 1) throws(CodecError) -> ImageInfo {
        try withBytes(bytes) { raw throws(CodecError) in try probe(raw, shrink: shrink) }
    }

    static func probe(_ raw: UnsafeRawBufferPointer, shrink: Int = 1) throws(CodecError) -> ImageInfo {
        switch try ImageFormat.sniff(raw) {
        case .png: return try PNGCodec.probe(raw)
        case .jpeg: return try JPEGCodec.probe(raw, shrink: shrink)
        case .webp: return try WebPCodec.probe(raw)
        case .avif: return try AVIFCodec.probe(raw)
        }
    }

    /// Decodes a PNG, JPEG, WebP or AVIF. The header is checked against `limits` before
    /// the pixel buffer is allocated.
    /// - Returns: the image and the format it was stored in.
    /// - Parameters:
    ///   - toSRGB: convert RGB pixels to sRGB through the file's ICC profile.
    ///   - shrink: shrink a JPEG by 2, 4 or 8 in the DCT domain (``ShrinkOnLoad``).
    ///   - threads: a JPEG of 1 MB or more whose restart markers allow it
    ///     (``JPEGRestarts``) is decoded in this many bands at once; the
    ///     pixels are the same.
    public static func decode(_ bytes: [UInt8], limits: DecodeLimits = .default, toSRGB: Bool = false,
                              shrink: Int = 1, threads: Int = 1) throws(CodecError) -> (image: Image, format: ImageFormat) {
        try withBytes(bytes) { raw throws(CodecError) in
            if threads > 1, raw.count >= 1 << 20, let image = try decodeInBands(raw, limits: limits, toSRGB: toSRGB, shrink: shrink,
                                                                                threads: threads) {
                return (image, .jpeg)
            }
            let decoder = try RowDecoder(raw, keeping: nil, limits: limits, toSRGB: toSRGB, shrink: shrink)
            return (try decoder.readImage(), decoder.info.format)
        }
    }

    /// A JPEG decoded in `threads` bands of rows at once, each from the
    /// restart point above it; nil when the file has none to use.
    package static func decodeInBands(_ raw: UnsafeRawBufferPointer, limits: DecodeLimits, toSRGB: Bool, shrink: Int,
                              threads: Int) throws(CodecError) -> Image? {
        guard (try? ImageFormat.sniff(raw)) == .jpeg, let restarts = JPEGRestarts(raw) else { return nil }
        let info = try probe(raw, shrink: shrink)
        try limits.check(try probe(raw))
        let cuts = (0...threads).map { info.height * $0 / threads }
        let rowBytes = info.width * info.channels
        let failures = ConcurrentSlots<CodecError>(count: threads)
        // Read only while the bands are decoded, each band into its own rows.
        nonisolated(unsafe) let bytes = raw
        let image = Image(width: info.width, height: info.height, channels: info.channels) { pixels in
            nonisolated(unsafe) let out = pixels
            DispatchQueue.concurrentPerform(iterations: threads) { k in
                let rows = cuts[k]..<cuts[k + 1]
                guard !rows.isEmpty else { return }
                do throws(CodecError) {
                    let decoder = try RowDecoder(bytes, keeping: nil, limits: limits, toSRGB: toSRGB, shrink: shrink,
                                                 from: rows.lowerBound, restarts: k == 0 ? nil : restarts)
                    try decoder.skip(rows.lowerBound - decoder.nextRow)
                    try decoder.read(rows.count, into: out + rows.lowerBound * rowBytes)
                } catch {
                    failures.set(k, error)
                }
            }
        }
        if let failure = failures.all.compactMap({ $0 }).first { throw failure }
        return image
    }

    /// Encodes `image` as `format`. JPEG has no alpha: it is dropped.
    /// - Parameters:
    ///   - quality: JPEG, WebP and AVIF quality 1...100 (ignored for PNG, which is lossless).
    ///   - pngLevel: PNG's deflate level 0...9 (``PNGBands/defaultLevel`` by default).
    ///   - threads: threads compressing PNG segments at once (the bytes do not depend on it).
    public static func encode(_ image: Image, as format: ImageFormat, quality: Int = 90, pngLevel: Int = PNGBands.defaultLevel,
                              threads: Int = 1) throws(CodecError) -> [UInt8] {
        guard image.width > 0, image.height > 0 else { throw CodecError(.encodeFailed, "cannot encode an empty image") }
        switch format {
        case .png: return try PNGCodec.encode(image, level: pngLevel, threads: threads)
        case .jpeg, .webp, .avif:
            guard (1...100).contains(quality) else { throw CodecError(.encodeFailed, "\(format.name) quality must be 1...100, not \(quality)") }
            switch format {
            case .jpeg: return try JPEGCodec.encode(image, quality: quality)
            case .webp: return try WebPCodec.encode(image, quality: quality)
            default: return try AVIFCodec.encode(image, quality: quality)
            }
        }
    }
}

/// `withUnsafeBytes` keeping the typed error (the standard one only rethrows `any Error`).
private func withBytes<T>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws(CodecError) -> T) throws(CodecError) -> T {
    let result: Result<T, CodecError> = bytes.withUnsafeBytes { raw in
        Result { () throws(CodecError) in try body(raw) }
    }
    return try result.get()
}
