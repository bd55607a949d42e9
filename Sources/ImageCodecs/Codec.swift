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
    public static func decode(_ bytes: [UInt8], limits: DecodeLimits = .default, toSRGB: Bool = false,
                              shrink: Int = 1) throws(CodecError) -> (image: Image, format: ImageFormat) {
        try withBytes(bytes) { raw throws(CodecError) in
            let decoder = try RowDecoder(raw, keeping: nil, limits: limits, toSRGB: toSRGB, shrink: shrink)
            return (try decoder.readImage(), decoder.info.format)
        }
    }

    /// Encodes `image` as `format`. JPEG has no alpha: it is dropped.
    /// - Parameters:
    ///   - quality: JPEG, WebP and AVIF quality 1...100 (ignored for PNG, which is lossless).
    ///   - threads: threads compressing PNG segments at once (the bytes do not depend on it).
    public static func encode(_ image: Image, as format: ImageFormat, quality: Int = 90, threads: Int = 1) throws(CodecError) -> [UInt8] {
        guard image.width > 0, image.height > 0 else { throw CodecError(.encodeFailed, "cannot encode an empty image") }
        switch format {
        case .png: return try PNGCodec.encode(image, threads: threads)
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
