import CAVIF
import ImageCore

/// AVIF through libavif (AV1 by libaom or dav1d); all of libavif is touched
/// here. Still images are read to 8-bit RGB or RGBA (deeper samples scaled);
/// sequences are refused. Output: 4:2:0, one thread, at a quantizer taken
/// from the job's quality; gray is written as RGB. Results carry no
/// metadata yet (libavif sets it before encoding, not into written bytes).
enum AVIFCodec {
    /// Speed 0 (slowest) ... 10: 8 keeps a 2 MP encode near a second on one core.
    static let speed: Int32 = 8

    /// A parsed file (header and boxes, no pixels); throws libavif's reason when it refuses it.
    private final class Parsed {
        let decoder: UnsafeMutablePointer<avifDecoder>

        init(_ bytes: UnsafeRawBufferPointer) throws(CodecError) {
            guard let decoder = avifDecoderCreate() else { throw CodecError(.corrupt, "AVIF decoder: out of memory") }
            self.decoder = decoder
            decoder.pointee.maxThreads = 1
            let status = avifDecoderSetIOMemory(decoder, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count)
            let parsed = status == AVIF_RESULT_OK ? avifDecoderParse(decoder) : status
            guard parsed == AVIF_RESULT_OK else {
                let kind = parsed == AVIF_RESULT_TRUNCATED_DATA ? "truncated" : "corrupt"
                throw CodecError(.corrupt, "\(kind) AVIF: \(String(cString: avifResultToString(parsed)))")
            }
            if decoder.pointee.imageCount > 1 { throw CodecError(.unsupported, "AVIF image sequences are not supported") }
        }

        deinit { avifDecoderDestroy(decoder) }

        var info: ImageInfo {
            let image = decoder.pointee.image.pointee
            return ImageInfo(format: .avif, width: Int(image.width), height: Int(image.height),
                             channels: decoder.pointee.alphaPresent != 0 ? 4 : 3)
        }

        /// The profile, EXIF and XMP the file carries.
        var metadata: Metadata {
            let image = decoder.pointee.image.pointee
            func bytes(_ data: avifRWData) -> [UInt8]? {
                data.size > 0 && data.data != nil ? Array(UnsafeBufferPointer(start: data.data, count: data.size)) : nil
            }
            return Metadata(icc: bytes(image.icc), exif: bytes(image.exif), xmp: bytes(image.xmp))
        }
    }

    static func probe(_ bytes: UnsafeRawBufferPointer) throws(CodecError) -> ImageInfo { try Parsed(bytes).info }

    static func metadata(_ bytes: [UInt8]) -> Metadata {
        let parsed: Parsed? = bytes.withUnsafeBytes { try? Parsed($0) }
        return parsed?.metadata ?? Metadata()
    }

    /// libavif decodes a frame whole: the decoder holds the pixels and hands out rows.
    final class Decoder: RowBackend {
        private var pixels: [UInt8]
        private let rowBytes: Int
        private var next = 0

        init(_ bytes: UnsafeRawBufferPointer, info: ImageInfo) throws(CodecError) {
            let parsed = try Parsed(bytes)
            let decoder = parsed.decoder
            let status = avifDecoderNextImage(decoder)
            guard status == AVIF_RESULT_OK else { throw CodecError(.corrupt, "corrupt AVIF: \(String(cString: avifResultToString(status)))") }
            rowBytes = info.width * info.channels
            pixels = [UInt8](repeating: 0, count: rowBytes * info.height)
            var rgb = avifRGBImage()
            avifRGBImageSetDefaults(&rgb, decoder.pointee.image)
            rgb.format = info.channels == 4 ? AVIF_RGB_FORMAT_RGBA : AVIF_RGB_FORMAT_RGB
            rgb.depth = 8
            rgb.rowBytes = UInt32(rowBytes)
            let converted = pixels.withUnsafeMutableBufferPointer { out in
                rgb.pixels = out.baseAddress
                return avifImageYUVToRGB(decoder.pointee.image, &rgb)
            }
            guard converted == AVIF_RESULT_OK else { throw CodecError(.corrupt, "AVIF: \(String(cString: avifResultToString(converted)))") }
        }

        func skip(_ count: Int) throws(CodecError) { next += count }

        func read(_ count: Int, into buffer: UnsafeMutablePointer<UInt8>) throws(CodecError) {
            pixels.withUnsafeBufferPointer { p in buffer.update(from: p.baseAddress! + next * rowBytes, count: count * rowBytes) }
            next += count
        }
    }

    static func encode(_ image: Image, quality: Int) throws(CodecError) -> [UInt8] {
        let source = image.channels < 3 ? image.expandedToRGB() : image
        guard let avif = avifImageCreate(UInt32(source.width), UInt32(source.height), 8, AVIF_PIXEL_FORMAT_YUV420) else {
            throw CodecError(.encodeFailed, "AVIF encoder: out of memory")
        }
        defer { avifImageDestroy(avif) }
        var rgb = avifRGBImage()
        avifRGBImageSetDefaults(&rgb, avif)
        rgb.format = source.channels == 4 ? AVIF_RGB_FORMAT_RGBA : AVIF_RGB_FORMAT_RGB
        rgb.depth = 8
        rgb.rowBytes = UInt32(source.width * source.channels)
        var pixels = source.pixels
        let imported = pixels.withUnsafeMutableBufferPointer { px in
            rgb.pixels = px.baseAddress
            return avifImageRGBToYUV(avif, &rgb)
        }
        guard imported == AVIF_RESULT_OK else { throw CodecError(.encodeFailed, "AVIF: \(String(cString: avifResultToString(imported)))") }
        guard let encoder = avifEncoderCreate() else { throw CodecError(.encodeFailed, "AVIF encoder: out of memory") }
        defer { avifEncoderDestroy(encoder) }
        encoder.pointee.maxThreads = 1
        encoder.pointee.speed = speed
        // quality 100 is quantizer 0 (best), 1 is 63 (worst).
        let quantizer = Int32((100 - quality) * Int(AVIF_QUANTIZER_WORST_QUALITY) / 99)
        encoder.pointee.minQuantizer = quantizer
        encoder.pointee.maxQuantizer = quantizer
        encoder.pointee.minQuantizerAlpha = quantizer
        encoder.pointee.maxQuantizerAlpha = quantizer
        var output = avifRWData(data: nil, size: 0)
        let written = avifEncoderWrite(encoder, avif, &output)
        defer { avifRWDataFree(&output) }
        guard written == AVIF_RESULT_OK, let data = output.data else {
            throw CodecError(.encodeFailed, "AVIF encoder: \(String(cString: avifResultToString(written)))")
        }
        return Array(UnsafeBufferPointer(start: data, count: output.size))
    }
}
