import CPNG
import Dispatch
import ImageCore

/// PNG written in bands compressed apart — by threads, or by the ranks that
/// hold them — and joined into byte for byte the whole image's PNG.
///
/// The image is cut into segments of ``segmentRows(width:channels:)`` rows, a
/// count set by the image's shape alone. Each segment's rows are filtered
/// (its first row with None or Sub only, which do not read the row above)
/// and deflated (libdeflate) as an independent part of the one zlib stream:
/// a fresh dictionary, ended byte-aligned as a sync flush ends, as pigz does.
/// Each part is an IDAT chunk of its own, so a band's bytes do not depend on
/// where in the file they land: ranks can store their bands apart and the
/// result is their concatenation between a ``head(width:height:channels:)``
/// and a ``tail(of:height:)``. The parts' Adler-32 sums are combined. Whoever
/// compresses a segment, its bytes are the same.
public enum PNGBands {
    /// libdeflate's level 1: on photos, smaller than zlib's level 6 (Pillow's default) at three times zlib level 1's speed.
    public static let defaultLevel = 1

    /// Rows per segment: a multiple of 16 (so JPEG's band cuts fit too) holding at least 256 KiB,
    /// small enough for the automatic strips of a large image to be whole segments.
    public static func segmentRows(width: Int, channels: Int) -> Int {
        let rowBytes = width * channels + 1
        let rows = ((1 << 18) + rowBytes - 1) / rowBytes
        return (rows + 15) / 16 * 16
    }

    /// A run of whole segments, compressed.
    public struct Band: Sendable, Equatable {
        /// Its first row.
        public var y: Int
        /// Its rows.
        public var rows: Int
        /// Its segments' IDAT chunks: raw DEFLATE, each part ending byte-aligned (or with the
        /// final block, for the image's last segment); the first band's starts with the zlib header.
        public var data: [UInt8]
        /// Adler-32 of the filtered bytes, and how many there are.
        public var adler: UInt32
        public var filteredCount: Int

        public init(y: Int, rows: Int, data: [UInt8], adler: UInt32, filteredCount: Int) {
            self.y = y
            self.rows = rows
            self.data = data
            self.adler = adler
            self.filteredCount = filteredCount
        }
    }

    /// Compresses `band`, rows `y...` of an image `imageHeight` rows high.
    /// - Parameters:
    ///   - y: a multiple of the segment rows.
    ///   - threads: segments compressed at once.
    public static func compress(_ band: Image, y: Int, imageHeight: Int, level: Int = defaultLevel,
                                threads: Int = 1) throws(CodecError) -> Band {
        let step = segmentRows(width: band.width, channels: band.channels)
        guard y % step == 0, y + band.height <= imageHeight, (0...9).contains(level) else {
            throw CodecError(.encodeFailed, "PNG band at row \(y) (\(band.height) rows, level \(level)) is not on a segment of \(step) rows")
        }
        let segments = (band.height + step - 1) / step
        let parts = ConcurrentSlots<Part>(count: segments)
        let endsImage = y + band.height == imageHeight
        let width = band.width, height = band.height, channels = band.channels
        band.pixels.withUnsafeBufferPointer { pixels in
            // Read only, while this call lasts.
            nonisolated(unsafe) let base = pixels.baseAddress!
            let job: @Sendable (Int) -> Void = { k in
                let rows = (k * step)..<min(height, (k + 1) * step)
                parts.set(k, segment(base, width: width, channels: channels, rows: rows, level: level,
                                     first: y == 0 && k == 0, last: endsImage && k == segments - 1))
            }
            if threads > 1 && segments > 1 {
                DispatchQueue.concurrentPerform(iterations: segments, execute: job)
            } else {
                for k in 0..<segments { job(k) }
            }
        }
        var out = Band(y: y, rows: band.height, data: [], adler: 1, filteredCount: 0)
        out.data.reserveCapacity(parts.all.reduce(0) { $0 + ($1?.data.count ?? 0) })
        for part in parts.all {
            guard let part else { throw CodecError(.encodeFailed, "a PNG segment could not be compressed") }
            out.data += part.data
            out.adler = cpng_adler32_combine(out.adler, part.adler, part.count)
            out.filteredCount += part.count
        }
        return out
    }

    /// The PNG of an image from its bands, top to bottom, covering it.
    public static func join(_ bands: [Band], width: Int, height: Int, channels: Int) throws(CodecError) -> [UInt8] {
        var png = try head(width: width, height: height, channels: channels)
        png.reserveCapacity(bands.reduce(64) { $0 + $1.data.count })
        for band in bands { png += band.data }
        return png + (try tail(of: bands.map { Summary($0) }, height: height))
    }

    /// What the tail needs of a band: where it lies and its Adler-32.
    public struct Summary: Sendable, Equatable {
        public var y: Int, rows: Int, adler: UInt32, filteredCount: Int
        public init(y: Int, rows: Int, adler: UInt32, filteredCount: Int) {
            self.y = y
            self.rows = rows
            self.adler = adler
            self.filteredCount = filteredCount
        }
        public init(_ band: Band) { self.init(y: band.y, rows: band.rows, adler: band.adler, filteredCount: band.filteredCount) }
    }

    /// What comes before the bands: the signature, IHDR and sRGB.
    public static func head(width: Int, height: Int, channels: Int) throws(CodecError) -> [UInt8] {
        guard (1...4).contains(channels), width > 0, height > 0, width < 1 << 31, height < 1 << 31 else {
            throw CodecError(.encodeFailed, "cannot write a \(width)x\(height) PNG of \(channels) channels")
        }
        let colourType: UInt8 = [0, 4, 2, 6][channels - 1]
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        chunk("IHDR", be32(UInt32(width)) + be32(UInt32(height)) + [8, colourType, 0, 0, 0], into: &png)
        chunk("sRGB", [0], into: &png)   // perceptual, as libpng's simplified writer says of 8-bit data
        return png
    }

    /// What comes after the bands, given all of them top to bottom: the zlib
    /// stream's Adler-32 (an IDAT chunk of its own) and IEND.
    public static func tail(of bands: [Summary], height: Int) throws(CodecError) -> [UInt8] {
        var next = 0
        var adler: UInt32 = 1
        for band in bands {
            guard band.y == next else { throw CodecError(.encodeFailed, "PNG band at row \(band.y), expected \(next)") }
            next += band.rows
            adler = cpng_adler32_combine(adler, band.adler, band.filteredCount)
        }
        guard next == height else { throw CodecError(.encodeFailed, "PNG bands end at row \(next) of \(height)") }
        var png: [UInt8] = []
        chunk("IDAT", be32(adler), into: &png)
        chunk("IEND", [], into: &png)
        return png
    }

    /// A PNG's filtered rows: its IDAT data joined and inflated, the zlib
    /// stream's Adler-32 checked; nil when the stream is damaged. For tests.
    package static func filteredRows(of png: [UInt8], limit: Int = 1 << 30) -> [UInt8]? {
        var stream: [UInt8] = []
        var i = 8
        while i + 12 <= png.count {
            let length = png[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) }
            guard length <= png.count - i - 12 else { return nil }
            if png[(i + 4)..<(i + 8)].elementsEqual("IDAT".utf8) { stream += png[(i + 8)..<(i + 8 + length)] }
            i += 12 + length
        }
        return PNGCodec.inflate(stream[...], limit: limit)
    }

    /// FLG of the zlib header: the level class (FLEVEL) and the check bits
    /// that make CMF·256 + FLG a multiple of 31.
    static func headerFlags(_ level: Int) -> UInt8 {
        let flevel: Int = level <= 1 ? 0 : level <= 5 ? 1 : level == 6 ? 2 : 3
        let high = flevel << 6
        return UInt8(high + (31 - (0x78 * 256 + high) % 31) % 31)
    }

    private static func chunk<C: Collection>(_ type: String, _ data: C, into png: inout [UInt8]) where C.Element == UInt8 {
        let start = png.count
        png += be32(UInt32(data.count))
        png += Array(type.utf8)
        png += data
        let crc = png.withUnsafeBufferPointer { cpng_crc32($0.baseAddress! + start + 4, $0.count - start - 4) }
        png += be32(crc)
    }

    private static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    private struct Part { var data: [UInt8]; var adler: UInt32; var count: Int }

    /// One segment's rows filtered and deflated into an IDAT chunk (after the
    /// zlib header for the image's first), or nil when that fails.
    private static func segment(_ pixels: UnsafePointer<UInt8>, width: Int, channels: Int, rows: Range<Int>, level: Int,
                                first: Bool, last: Bool) -> Part? {
        let rowBytes = width * channels
        let filteredCount = rows.count * (rowBytes + 1)
        let filtered = UnsafeMutablePointer<UInt8>.allocate(capacity: filteredCount)
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: 4 * rowBytes)
        defer { filtered.deallocate(); scratch.deallocate() }
        for (k, row) in rows.enumerated() {
            PNGFilter.filter(pixels + row * rowBytes, above: k == 0 ? nil : pixels + (row - 1) * rowBytes, count: rowBytes,
                             bpp: channels, into: filtered + k * (rowBytes + 1), scratch: scratch)
        }
        let header: [UInt8] = first ? [0x78, headerFlags(level)] : []
        let bound = cpng_deflate_part_bound(filteredCount)
        var failed = false
        // length, "IDAT", the zlib header, the part, CRC
        let data = [UInt8](unsafeUninitializedCapacity: 12 + header.count + bound) { buffer, count in
            let out = buffer.baseAddress!
            for (i, b) in header.enumerated() { out[8 + i] = b }
            let written = cpng_deflate_part(filtered, filteredCount, Int32(level), last ? 1 : 0, out + 8 + header.count, bound)
            guard written >= 0 else { failed = true; count = 0; return }
            let length = header.count + written
            for (i, b) in (be32(UInt32(length)) + Array("IDAT".utf8)).enumerated() { out[i] = b }
            for (i, b) in be32(cpng_crc32(out + 4, 4 + length)).enumerated() { out[8 + length + i] = b }
            count = 12 + length
        }
        guard !failed else { return nil }
        return Part(data: data, adler: cpng_adler32(filtered, filteredCount), count: filteredCount)
    }
}
