import CPNG
import ImageCore

/// PNG through libpng's simplified `png_image_*` API, which reports errors
/// by return code (no setjmp in Swift). All of libpng is touched here only.
///
/// Every colour type and bit depth is read: palette images expand to RGB(A),
/// 16-bit samples are reduced to 8 bits, interlaced images de-interlaced.
/// libpng applies a gAMA chunk, so images are returned in sRGB.
enum PNGCodec {
    /// Runs `body` with a `png_image` whose header has been read from `bytes`.
    private static func withHeader<T>(_ bytes: UnsafeRawBufferPointer,
                                      _ body: (inout png_image) throws(CodecError) -> T) throws(CodecError) -> T {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        defer { png_image_free(&image) }
        guard png_image_begin_read_from_memory(&image, bytes.baseAddress, bytes.count) != 0 else {
            throw CodecError(.corrupt, "corrupt PNG: \(message(&image))")
        }
        return try body(&image)
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let text = raw.prefix { $0 != 0 }
            return text.isEmpty ? "unknown libpng error" : String(decoding: text, as: UTF8.self)
        }
    }

    /// Channels kept when decoding a file of `format`.
    private static func channels(_ format: png_uint_32) -> Int {
        let alpha = format & png_uint_32(PNG_FORMAT_FLAG_ALPHA) != 0
        let color = format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0
        return (color ? 3 : 1) + (alpha ? 1 : 0)
    }

    private static func format(channels: Int) -> png_uint_32 {
        let alpha = channels == 2 || channels == 4 ? png_uint_32(PNG_FORMAT_FLAG_ALPHA) : 0
        let color = channels >= 3 ? png_uint_32(PNG_FORMAT_FLAG_COLOR) : 0
        return alpha | color
    }

    static func probe(_ bytes: UnsafeRawBufferPointer) throws(CodecError) -> ImageInfo {
        try withHeader(bytes) { image throws(CodecError) in
            ImageInfo(format: .png, width: Int(image.width), height: Int(image.height),
                      channels: channels(image.format))
        }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, limits: DecodeLimits) throws(CodecError) -> Image {
        try withHeader(bytes) { image throws(CodecError) in
            let info = ImageInfo(format: .png, width: Int(image.width), height: Int(image.height),
                                 channels: channels(image.format))
            try limits.check(info)
            image.format = format(channels: info.channels)
            var failure: String?
            let pixels = [UInt8](unsafeUninitializedCapacity: info.width * info.height * info.channels) { buffer, count in
                count = buffer.count
                if png_image_finish_read(&image, nil, buffer.baseAddress, 0, nil) == 0 {
                    failure = message(&image)
                }
            }
            if let failure {
                let truncated = failure.contains("end of") || failure.contains("EOF") || failure.contains("truncated")
                throw CodecError(.corrupt, truncated ? "truncated PNG: \(failure)" : "corrupt PNG: \(failure)")
            }
            return Image(width: info.width, height: info.height, channels: info.channels, pixels: pixels)
        }
    }

    static func encode(_ source: Image) throws(CodecError) -> [UInt8] {
        var image = png_image()
        image.version = png_uint_32(PNG_IMAGE_VERSION)
        image.width = png_uint_32(source.width)
        image.height = png_uint_32(source.height)
        image.format = format(channels: source.channels)
        defer { png_image_free(&image) }
        return try source.pixels.withUnsafeBufferPointer { px throws(CodecError) in
            var size = 0
            // First call measures, second writes.
            guard png_image_write_to_memory(&image, nil, &size, 0, px.baseAddress, 0, nil) != 0 else {
                throw CodecError(.encodeFailed, "PNG encoder: \(message(&image))")
            }
            var failure: String?
            let out = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                var written = size
                if png_image_write_to_memory(&image, buffer.baseAddress, &written, 0, px.baseAddress, 0, nil) == 0 {
                    failure = message(&image)
                    count = 0
                } else {
                    count = written
                }
            }
            if let failure { throw CodecError(.encodeFailed, "PNG encoder: \(failure)") }
            return out
        }
    }
}
