import CWebP
import ImageCore

/// WebP through libwebp; all of libwebp is touched here. Lossy and lossless
/// files are read, to RGB or RGBA; animated ones are refused. Output is lossy
/// at the job's quality (RGB, or RGBA when the image has alpha; gray is
/// written as RGB, WebP has no gray).
enum WebPCodec {
    static let maxSide = ImageFormat.webpMaxSide

    static func probe(_ bytes: UnsafeRawBufferPointer) throws(CodecError) -> ImageInfo {
        var features = WebPBitstreamFeatures()
        let status = WebPGetFeatures(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count, &features)
        guard status == VP8_STATUS_OK else {
            if status == VP8_STATUS_NOT_ENOUGH_DATA { throw CodecError(.corrupt, "truncated WebP: its header is cut short") }
            throw CodecError(.corrupt, "corrupt WebP: libwebp status \(status.rawValue)")
        }
        if features.has_animation != 0 { throw CodecError(.unsupported, "animated WebP images are not supported") }
        return ImageInfo(format: .webp, width: Int(features.width), height: Int(features.height), channels: features.has_alpha != 0 ? 4 : 3)
    }

    /// libwebp decodes a file whole: the decoder holds the pixels and hands out rows.
    final class Decoder: RowBackend {
        private var pixels: [UInt8]
        private let rowBytes: Int
        private var next = 0

        init(_ bytes: UnsafeRawBufferPointer, info: ImageInfo) throws(CodecError) {
            rowBytes = info.width * info.channels
            pixels = [UInt8](repeating: 0, count: rowBytes * info.height)
            let data = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let size = pixels.count, stride = Int32(rowBytes)
            let decoded = pixels.withUnsafeMutableBufferPointer { out in
                info.channels == 4 ? WebPDecodeRGBAInto(data, bytes.count, out.baseAddress, size, stride)
                                   : WebPDecodeRGBInto(data, bytes.count, out.baseAddress, size, stride)
            }
            guard decoded != nil else { throw CodecError(.corrupt, "corrupt or truncated WebP: libwebp could not decode it") }
        }

        func skip(_ count: Int) throws(CodecError) { next += count }

        func read(_ count: Int, into buffer: UnsafeMutablePointer<UInt8>) throws(CodecError) {
            pixels.withUnsafeBufferPointer { p in buffer.update(from: p.baseAddress! + next * rowBytes, count: count * rowBytes) }
            next += count
        }
    }

    static func encode(_ image: Image, quality: Int) throws(CodecError) -> [UInt8] {
        guard image.width <= maxSide, image.height <= maxSide else {
            throw CodecError(.encodeFailed, "WebP images are at most \(maxSide) pixels a side, not \(image.width)x\(image.height)")
        }
        let source = image.channels < 3 ? image.expandedToRGB() : image
        var out: UnsafeMutablePointer<UInt8>?
        let size = source.pixels.withUnsafeBufferPointer { px in
            source.channels == 4
                ? WebPEncodeRGBA(px.baseAddress, Int32(source.width), Int32(source.height), Int32(source.width * 4), Float(quality), &out)
                : WebPEncodeRGB(px.baseAddress, Int32(source.width), Int32(source.height), Int32(source.width * 3), Float(quality), &out)
        }
        defer { WebPFree(out) }
        guard size > 0, let out else { throw CodecError(.encodeFailed, "WebP encoder failed on a \(image.width)x\(image.height) image") }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}

extension Image {
    /// Gray (and gray with alpha) repeated into RGB (RGBA), for formats without gray.
    func expandedToRGB() -> Image {
        let alpha = channels == 2, outCh = alpha ? 4 : 3, n = width * height
        return pixels.withUnsafeBufferPointer { src in
            Image(width: width, height: height, channels: outCh) { dst in
                for i in 0..<n {
                    let g = src[i * channels]
                    dst[i * outCh] = g; dst[i * outCh + 1] = g; dst[i * outCh + 2] = g
                    if alpha { dst[i * outCh + 3] = src[i * 2 + 1] }
                }
            }
        }
    }
}
