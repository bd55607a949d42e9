import CPNG
import ImageCore

/// PNG read through libpng, written through libdeflate (``PNGBands``). All
/// of libpng, libdeflate and zlib is touched here, in ``PNGBands`` and in the
/// `CPNG` C target below them.
///
/// Every colour type and bit depth is read: palette images expand to
/// RGB(A), low bit depths to 8 bits, tRNS to alpha, 16-bit samples are
/// scaled to 8 bits (`v · 255 / 65535`, rounded), interlacing is undone.
/// Colour-space chunks (gAMA, sRGB, iCCP) are not applied: pixels are the
/// stored values, as OpenCV, Pillow and libvips read them.
enum PNGCodec {
    fileprivate static func message(_ buffer: [CChar]) -> String {
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "unknown libpng error" : text
    }

    fileprivate static func failure(_ text: String) -> CodecError {
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

    /// A libpng reader over bytes that outlive it.
    final class Decoder: RowBackend {
        private let handle: OpaquePointer

        init(_ bytes: UnsafeRawBufferPointer) throws(CodecError) {
            var info = cpng_info()
            var text = [CChar](repeating: 0, count: 256)
            guard let h = cpng_decoder_open(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count,
                                            &info, &text, text.count) else { throw failure(message(text)) }
            handle = h
        }

        deinit { cpng_decoder_close(handle) }

        func skip(_ count: Int) throws(CodecError) {
            var text = [CChar](repeating: 0, count: 256)
            guard cpng_decoder_skip(handle, UInt32(count), &text, text.count) == 0 else { throw failure(message(text)) }
        }

        func read(_ count: Int, into buffer: UnsafeMutablePointer<UInt8>) throws(CodecError) {
            var text = [CChar](repeating: 0, count: 256)
            guard cpng_decoder_read(handle, buffer, UInt32(count), &text, text.count) == 0 else { throw failure(message(text)) }
        }
    }

    /// A zlib stream inflated to at most `limit` bytes, its Adler-32 checked;
    /// nil when it is damaged or larger.
    static func inflate(_ data: ArraySlice<UInt8>, limit: Int) -> [UInt8]? {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = data.withUnsafeBufferPointer { cpng_inflate($0.baseAddress, $0.count, limit, &out, &size) }
        defer { cpng_free(out) }
        guard status == 0, let out else { return nil }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    /// PNG of `image` (``PNGBands``), its segments compressed by `threads` threads.
    static func encode(_ image: Image, level: Int = PNGBands.defaultLevel, threads: Int = 1) throws(CodecError) -> [UInt8] {
        let band = try PNGBands.compress(image, y: 0, imageHeight: image.height, level: level, threads: threads)
        return try PNGBands.join([band], width: image.width, height: image.height, channels: image.channels)
    }
}
