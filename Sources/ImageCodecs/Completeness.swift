import Glibc

extension Codec {
    /// Whether the file ends as a whole file of its format does: PNG with its
    /// IEND chunk, JPEG with an end-of-image marker near its end, WebP with
    /// as many bytes as its RIFF header counts, AVIF with every top-level box
    /// whole; and a JPEG has at most 500 scans. A cheap check (no decoding) that catches
    /// truncated and hostile uploads before they are accepted; damage inside
    /// the data is found when the image is decoded.
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - format: its format, as sniffed (``ImageFormat/sniff(_:)``).
    /// - Throws: ``CodecError`` `.corrupt` (truncated) or `.unsupported` (too many scans).
    public static func checkComplete(_ bytes: [UInt8], format: ImageFormat) throws(CodecError) {
        switch format {
        case .png:
            let iend: [UInt8] = [0, 0, 0, 0, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]
            guard bytes.count >= iend.count, Array(bytes.suffix(iend.count)) == iend else {
                throw CodecError(.corrupt, "truncated PNG: the file does not end with its IEND chunk")
            }
        case .webp:
            // RIFF size: the bytes after the first 8, padded to even.
            guard bytes.count >= 12 else { throw CodecError(.corrupt, "truncated WebP: no RIFF header") }
            let size = Int(bytes[4]) | Int(bytes[5]) << 8 | Int(bytes[6]) << 16 | Int(bytes[7]) << 24
            guard bytes.count >= 8 + size else {
                throw CodecError(.corrupt, "truncated WebP: its RIFF header counts \(8 + size) bytes, the file has \(bytes.count)")
            }
        case .avif:
            var at = 0
            while at + 8 <= bytes.count {
                var size = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
                if size == 0 { return }                                       // to the end of the file
                if size == 1, at + 16 <= bytes.count {                        // 64-bit size
                    size = bytes[(at + 8)..<(at + 16)].reduce(0) { $0 > Int.max >> 9 ? Int.max : $0 << 8 | Int($1) }
                }
                guard size >= 8, size <= bytes.count - at else {
                    throw CodecError(.corrupt, "truncated AVIF: a box at byte \(at) runs past the end of the file")
                }
                at += size
            }
        case .jpeg:
            // Some writers leave padding or a trailer after the end marker.
            let found = bytes.withUnsafeBufferPointer { b in
                stride(from: b.count - 2, through: max(0, b.count - 65_536), by: -1).contains { b[$0] == 0xFF && b[$0 + 1] == 0xD9 }
            }
            guard found else {
                throw CodecError(.corrupt, "truncated JPEG: the file has no end-of-image marker")
            }
            // Entropy-coded data never holds FF DA (every FF in it is followed by 00 or
            // a restart marker): each one is a start of scan.
            let scans = bytes.withUnsafeBytes { b -> Int in
                guard var at = b.baseAddress, b.count > 1 else { return 0 }
                let end = at + b.count - 1
                var n = 0
                // memchr finds each FF many times faster than a byte loop (an 8 MB upload in well under a millisecond).
                while at < end, let ff = memchr(at, 0xFF, end - at) {
                    if ff.load(fromByteOffset: 1, as: UInt8.self) == 0xDA { n += 1 }
                    at = UnsafeRawPointer(ff) + 1
                }
                return n
            }
            if scans > JPEGCodec.maxScans {
                throw CodecError(.unsupported, "refused JPEG: the file has \(scans) scans, more than \(JPEGCodec.maxScans)")
            }
        }
    }
}
