import CPNG
import ImageCore

/// PNG through libpng. All of libpng is touched here and in the `CPNG` C
/// target below it.
///
/// Every colour type and bit depth is read: palette images expand to
/// RGB(A), low bit depths to 8 bits, tRNS to alpha, 16-bit samples are
/// scaled to 8 bits (`v · 255 / 65535`, rounded), interlacing is undone.
/// Colour-space chunks (gAMA, sRGB, iCCP) are not applied: pixels are the
/// stored values, as OpenCV, Pillow and libvips read them.
enum PNGCodec {
    private static func message(_ buffer: [CChar]) -> String {
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "unknown libpng error" : text
    }

    private static func failure(_ text: String) -> CodecError {
        if text.contains("truncated") || text.contains("end of") || text.contains("Not enough") {
            return CodecError(.corrupt, "truncated PNG: \(text)")
        }
        return CodecError(.corrupt, "corrupt PNG: \(text)")
    }

    static func probe(_ bytes: UnsafeRawBufferPointer) throws(CodecError) -> ImageInfo {
        var info = cpng_info()
        var text = [CChar](repeating: 0, count: 256)
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard cpng_probe(base, bytes.count, &info, &text, text.count) == 0 else { throw failure(message(text)) }
        return ImageInfo(format: .png, width: Int(info.width), height: Int(info.height), channels: Int(info.channels))
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, limits: DecodeLimits) throws(CodecError) -> Image {
        let info = try probe(bytes)
        try limits.check(info)
        var text = [CChar](repeating: 0, count: 256)
        var status: Int32 = 0
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let pixels = [UInt8](unsafeUninitializedCapacity: info.width * info.height * info.channels) { buffer, count in
            status = cpng_decode(base, bytes.count, buffer.baseAddress, buffer.count, &text, text.count)
            count = buffer.count
        }
        guard status == 0 else { throw failure(message(text)) }
        return Image(width: info.width, height: info.height, channels: info.channels, pixels: pixels)
    }

    static func encode(_ image: Image) throws(CodecError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var text = [CChar](repeating: 0, count: 256)
        let status = image.pixels.withUnsafeBufferPointer { px in
            cpng_encode(px.baseAddress, UInt32(image.width), UInt32(image.height), Int32(image.channels),
                        &out, &size, &text, text.count)
        }
        defer { cpng_free(out) }
        guard status == 0, let out else { throw CodecError(.encodeFailed, "PNG encoder: \(message(text))") }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}
