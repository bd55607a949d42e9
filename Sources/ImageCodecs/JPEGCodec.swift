import CTurboJPEG
import ImageCore

/// JPEG through TurboJPEG 2.1 (`tjDecompress2`, `tjCompress2`). All of
/// TurboJPEG is touched here only. Gray JPEGs decode to 1 channel, all others
/// to RGB; CMYK and 12-bit JPEGs are refused. Warnings (such as a premature
/// end of data) are errors: a partly decoded image is never returned.
enum JPEGCodec {
    /// A TurboJPEG handle, destroyed after `body`.
    private static func withHandle<T>(compress: Bool, _ body: (tjhandle) throws(CodecError) -> T) throws(CodecError) -> T {
        guard let handle = compress ? tjInitCompress() : tjInitDecompress() else {
            throw CodecError(.encodeFailed, "TurboJPEG could not start: \(String(cString: tjGetErrorStr2(nil)))")
        }
        defer { tjDestroy(handle) }
        return try body(handle)
    }

    private static func message(_ handle: tjhandle) -> String { String(cString: tjGetErrorStr2(handle)) }

    private static func header(_ handle: tjhandle, _ bytes: UnsafeRawBufferPointer) throws(CodecError) -> ImageInfo {
        var w: Int32 = 0, h: Int32 = 0, subsamp: Int32 = 0, colorspace: Int32 = 0
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard tjDecompressHeader3(handle, base, UInt(bytes.count), &w, &h, &subsamp, &colorspace) == 0 else {
            let text = message(handle)
            if text.contains("precision") || text.contains("Unsupported") {
                throw CodecError(.unsupported, "unsupported JPEG: \(text)")
            }
            throw CodecError(.corrupt, "corrupt JPEG: \(text)")
        }
        if colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue) {
            throw CodecError(.unsupported, "CMYK JPEG images are not supported; convert to RGB first")
        }
        return ImageInfo(format: .jpeg, width: Int(w), height: Int(h), channels: colorspace == Int32(TJCS_GRAY.rawValue) ? 1 : 3)
    }

    static func probe(_ bytes: UnsafeRawBufferPointer) throws(CodecError) -> ImageInfo {
        try withHandle(compress: false) { handle throws(CodecError) in try header(handle, bytes) }
    }

    static func decode(_ bytes: UnsafeRawBufferPointer, limits: DecodeLimits) throws(CodecError) -> Image {
        try withHandle(compress: false) { handle throws(CodecError) in
            let info = try header(handle, bytes)
            try limits.check(info)
            let format = info.channels == 1 ? TJPF_GRAY : TJPF_RGB
            var failure: String?
            let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let pixels = [UInt8](unsafeUninitializedCapacity: info.width * info.height * info.channels) { buffer, count in
                count = buffer.count
                if tjDecompress2(handle, base, UInt(bytes.count), buffer.baseAddress, Int32(info.width), 0,
                                 Int32(info.height), Int32(format.rawValue), 0) != 0 {
                    failure = message(handle)
                }
            }
            if let failure {
                let truncated = failure.contains("Premature end")
                throw CodecError(.corrupt, truncated ? "truncated JPEG: \(failure)" : "corrupt JPEG: \(failure)")
            }
            return Image(width: info.width, height: info.height, channels: info.channels, pixels: pixels)
        }
    }

    /// JPEG of `image` at `quality` (1...100), 4:2:0 chroma for colour.
    /// Alpha cannot be stored in JPEG and is dropped.
    static func encode(_ image: Image, quality: Int) throws(CodecError) -> [UInt8] {
        let source = image.channels == 2 || image.channels == 4 ? dropAlpha(image) : image
        return try withHandle(compress: true) { handle throws(CodecError) in
            let gray = source.channels == 1
            var out: UnsafeMutablePointer<UInt8>?
            var size: UInt = 0
            defer { if let out { tjFree(out) } }
            let status = source.pixels.withUnsafeBufferPointer { px in
                tjCompress2(handle, px.baseAddress, Int32(source.width), 0, Int32(source.height),
                            Int32((gray ? TJPF_GRAY : TJPF_RGB).rawValue), &out, &size,
                            Int32((gray ? TJSAMP_GRAY : TJSAMP_420).rawValue), Int32(quality), 0)
            }
            guard status == 0, let out else {
                throw CodecError(.encodeFailed, "JPEG encoder: \(message(handle))")
            }
            return Array(UnsafeBufferPointer(start: out, count: Int(size)))
        }
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
