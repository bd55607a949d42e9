/// Joins JPEG bands into one image, byte for byte the image's own encoding.
///
/// ``Codec/encode(_:as:quality:)`` writes a restart marker after every MCU
/// row with fixed Huffman tables, so each MCU row's entropy-coded data
/// depends on its own pixels only. An image cut into bands at multiples of
/// ``rowAlignment`` rows, each band encoded as an image of its own, joins
/// back: the first band's headers (with the full height), each band's data,
/// a restart marker between bands, and the later bands' markers renumbered
/// (they count from RST0 in each band, and from the image's top in the whole).
public enum JPEGBands {
    /// Bands start at multiples of this many rows: an MCU row of 4:2:0 colour
    /// (16 rows) and two of gray (8 rows each).
    public static let rowAlignment = 16

    /// - Parameters:
    ///   - bands: each band's first row and its encoding, top to bottom, covering the image.
    ///   - height: the image's height.
    public static func join(_ bands: [(y: Int, bytes: [UInt8])], height: Int) throws(CodecError) -> [UInt8] {
        try checkOrder(bands.map(\.y), height: height)
        if bands.count == 1 { return bands[0].bytes }
        var out = try head(of: bands[0].bytes, height: height)
        out.reserveCapacity(bands.reduce(2) { $0 + $1.bytes.count })
        for band in bands { out += try body(of: band.bytes, y: band.y) }
        return out + tail
    }

    /// The joined image is ``head(of:height:)`` of the first band, then each
    /// band's ``body(of:y:)`` in order, then this.
    public static let tail: [UInt8] = [0xFF, 0xD9]

    /// The first band's headers, with the whole image's height.
    public static func head(of first: [UInt8], height: Int) throws(CodecError) -> [UInt8] {
        let layout = try Layout(first)
        var out = Array(first[0..<layout.dataStart])
        out[layout.heightOffset] = UInt8(height >> 8)
        out[layout.heightOffset + 1] = UInt8(height & 0xFF)
        return out
    }

    /// A band's entropy-coded data as it stands in the joined image: after
    /// the restart marker that ends the band above, its own markers
    /// renumbered. It depends on the band's rows alone, not on the others.
    public static func body(of band: [UInt8], y: Int) throws(CodecError) -> [UInt8] {
        let layout = try Layout(band)
        guard y > 0 else { return Array(band[layout.dataStart..<layout.dataEnd]) }
        guard y % layout.mcuRows == 0 else {
            throw CodecError(.encodeFailed, "JPEG band at row \(y) is not on an MCU row")
        }
        let rowsBefore = y / layout.mcuRows
        var out: [UInt8] = [0xFF, 0xD0 + UInt8((rowsBefore - 1) % 8)]
        out.reserveCapacity(layout.dataEnd - layout.dataStart + 2)
        var i = layout.dataStart
        let end = layout.dataEnd
        band.withUnsafeBufferPointer { b in
            var runStart = i
            while i < end - 1 {
                if b[i] == 0xFF, (0xD0...0xD7).contains(b[i + 1]) {
                    out += b[runStart..<(i + 1)]
                    out.append(0xD0 + UInt8((Int(b[i + 1] - 0xD0) + rowsBefore) % 8))
                    i += 2
                    runStart = i
                } else {
                    i += 1
                }
            }
            out += b[runStart..<end]
        }
        return out
    }

    /// Throws unless bands starting at rows `ys` can be joined in this order:
    /// the first at row 0, each below the last, all inside the image.
    public static func checkOrder(_ ys: [Int], height: Int) throws(CodecError) {
        guard ys.first == 0 else { throw CodecError(.encodeFailed, "JPEG bands must start at row 0") }
        for (above, y) in zip(ys, ys.dropFirst()) where !(y > above && y < height) {
            throw CodecError(.encodeFailed, "JPEG band at row \(y) does not come after the band at row \(above) inside \(height) rows")
        }
    }

    /// Where a baseline JPEG's height field and entropy-coded data are.
    struct Layout {
        var heightOffset = 0
        var mcuRows = 8
        var dataStart = 0
        var dataEnd = 0

        init(_ bytes: [UInt8]) throws(CodecError) {
            func bad(_ why: String) -> CodecError { CodecError(.encodeFailed, "cannot join JPEG bands: \(why)") }
            guard bytes.count > 4, bytes[0] == 0xFF, bytes[1] == 0xD8,
                  bytes[bytes.count - 2] == 0xFF, bytes[bytes.count - 1] == 0xD9 else { throw bad("not a whole JPEG") }
            var i = 2
            var sawFrame = false
            while i + 4 <= bytes.count {
                guard bytes[i] == 0xFF else { throw bad("no marker at byte \(i)") }
                let marker = bytes[i + 1]
                let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
                if marker == 0xC0 {
                    guard i + 10 <= bytes.count else { throw bad("short frame header") }
                    heightOffset = i + 5
                    let components = Int(bytes[i + 9])
                    var maxV = 1
                    for c in 0..<components where i + 11 + 3 * c < bytes.count {
                        maxV = max(maxV, Int(bytes[i + 11 + 3 * c] & 0x0F))
                    }
                    mcuRows = 8 * maxV
                    sawFrame = true
                } else if (0xC1...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC {
                    throw bad("only baseline JPEGs join")
                }
                if marker == 0xDA {
                    guard sawFrame else { throw bad("scan before frame header") }
                    dataStart = i + 2 + length
                    dataEnd = bytes.count - 2
                    return
                }
                i += 2 + length
            }
            throw bad("no scan")
        }
    }
}
