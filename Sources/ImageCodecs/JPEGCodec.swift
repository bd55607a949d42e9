import CJPEG
import ImageCore

/// JPEG through libjpeg (libjpeg-turbo), in the `CJPEG` C target; all of
/// libjpeg is touched there and here only. Gray JPEGs decode to 1 channel,
/// all others to RGB: CMYK (and YCCK) through their ICC profile to sRGB, or
/// by Pillow's formula when they have none; 12-bit JPEGs are refused. Warnings (such as
/// a premature end of data) are errors: a partly decoded image is never
/// returned. Output: baseline, 4:2:0, standard Huffman tables and a restart
/// marker after every MCU row, so that bands encoded apart join into the
/// whole image's bytes (``JPEGBands``).
enum JPEGCodec {
    private static func text(_ buffer: [CChar]) -> String {
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "unknown libjpeg error" : text
    }

    /// Most scans a progressive JPEG may have (each is a pass over the whole
    /// image); the C layer enforces the same figure while decoding.
    static let maxScans = 500

    static func failure(_ text: String) -> CodecError {
        if text.contains("scans") { return CodecError(.unsupported, "refused JPEG: \(text)") }
        if text.contains("precision") || text.contains("Unsupported") || text.contains("CMYK") {
            return CodecError(.unsupported, "unsupported JPEG: \(text)")
        }
        if text.contains("Premature end") { return CodecError(.corrupt, "truncated JPEG: \(text)") }
        return CodecError(.corrupt, "corrupt JPEG: \(text)")
    }

    /// - Parameter shrink: 1, 2, 4 or 8: the size of a decode shrunk that much.
    static func probe(_ bytes: UnsafeRawBufferPointer, shrink: Int = 1) throws(CodecError) -> ImageInfo {
        var info = cjpeg_info()
        var message = [CChar](repeating: 0, count: 256)
        guard cjpeg_probe(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count, Int32(shrink), &info,
                          &message, message.count) == 0 else { throw failure(text(message)) }
        if info.precision != 8 {
            throw CodecError(.unsupported, "unsupported JPEG: \(info.precision)-bit samples (only 8-bit JPEGs are read)")
        }
        return ImageInfo(format: .jpeg, width: Int(info.width), height: Int(info.height), channels: min(3, Int(info.channels)))
    }

    /// A libjpeg decompressor over bytes that outlive it.
    final class Decoder: RowBackend {
        private let handle: OpaquePointer
        /// CMYK rows are read here, then converted to RGB.
        private let cmyk: (transform: ColourTransform, width: Int)?

        /// The file's headers for a decoder started below the top (read by libjpeg from here).
        private let head: UnsafeMutableBufferPointer<UInt8>?

        /// - Parameter start: a restart point to decode from instead of the top (``JPEGRestarts``).
        init(_ bytes: UnsafeRawBufferPointer, shrink: Int = 1, from start: (JPEGRestarts, JPEGRestarts.Start)? = nil) throws(CodecError) {
            var info = cjpeg_info()
            var message = [CChar](repeating: 0, count: 256)
            let file = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let opened: OpaquePointer?
            if let (restarts, point) = start {
                let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: restarts.headerEnd)
                _ = copy.initialize(from: restarts.head(bytes, from: point))
                head = copy
                opened = cjpeg_decoder_open_parts(copy.baseAddress, copy.count, file + point.offset, bytes.count - point.offset,
                                                  Int32(shrink), &info, &message, message.count)
            } else {
                head = nil
                opened = cjpeg_decoder_open(file, bytes.count, Int32(shrink), &info, &message, message.count)
            }
            guard let h = opened else {
                head?.deallocate()
                throw failure(text(message))
            }
            handle = h
            if info.channels == 4 {
                let profile = Metadata.read(Array(bytes)).icc
                cmyk = (ColourTransform(profile: profile, input: .cmyk(inverted: info.inverted != 0))!, Int(info.width))
            } else {
                cmyk = nil
            }
        }

        deinit {
            cjpeg_decoder_close(handle)
            head?.deallocate()
        }

        func skip(_ count: Int) throws(CodecError) {
            var message = [CChar](repeating: 0, count: 256)
            guard cjpeg_decoder_skip(handle, UInt32(count), &message, message.count) == 0 else { throw failure(text(message)) }
        }

        func read(_ count: Int, into buffer: UnsafeMutablePointer<UInt8>) throws(CodecError) {
            var message = [CChar](repeating: 0, count: 256)
            guard let cmyk else {
                guard cjpeg_decoder_read(handle, buffer, UInt32(count), &message, message.count) == 0 else {
                    throw failure(text(message))
                }
                return
            }
            let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: count * cmyk.width * 4)
            defer { scratch.deallocate() }
            guard cjpeg_decoder_read(handle, scratch, UInt32(count), &message, message.count) == 0 else {
                throw failure(text(message))
            }
            cmyk.transform.apply(scratch, to: buffer, count: count * cmyk.width)
        }
    }

    /// JPEG of `image` at `quality` (1...100). Alpha cannot be stored in JPEG and is dropped.
    static func encode(_ image: Image, quality: Int) throws(CodecError) -> [UInt8] {
        let source = image.channels == 2 || image.channels == 4 ? dropAlpha(image) : image
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = source.pixels.withUnsafeBufferPointer { px in
            cjpeg_encode(px.baseAddress, UInt32(source.width), UInt32(source.height), Int32(source.channels),
                         Int32(quality), &out, &size, &message, message.count)
        }
        defer { cjpeg_free(out) }
        guard status == 0, let out else { throw CodecError(.encodeFailed, "JPEG encoder: \(text(message))") }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }

    private static func dropAlpha(_ image: Image) -> Image {
        let outCh = image.channels - 1, n = image.width * image.height
        return image.pixels.withUnsafeBufferPointer { src in
            Image(width: image.width, height: image.height, channels: outCh) { dst in
                for i in 0..<n {
                    for c in 0..<outCh { dst[i * outCh + c] = src[i * image.channels + c] }
                }
            }
        }
    }
}
