import ImageCodecs
import ImageCore
import Testing
import TestSupport

/// The PNG writer: rows filtered as the definitions say, the filter of
/// least magnitude chosen, and bands compressed apart (by threads or ranks)
/// joined into the whole image's bytes.
@Suite("PNG writer")
struct PNGWriterTests {
    /// One row filtered with each of PNG's five filters, one byte at a time.
    static func definitions(_ row: [UInt8], above: [UInt8]?, bpp: Int) -> [[UInt8]] {
        let b = above ?? [UInt8](repeating: 0, count: row.count)
        func left(_ v: [UInt8], _ i: Int) -> Int { i >= bpp ? Int(v[i - bpp]) : 0 }
        return (0..<5).map { filter in
            row.indices.map { i in
                let x = Int(row[i]), a = left(row, i), up = Int(b[i]), c = left(b, i)
                let predicted: Int
                switch filter {
                case 0: predicted = 0
                case 1: predicted = a
                case 2: predicted = up
                case 3: predicted = (a + up) / 2
                default:
                    let p = a + up - c, pa = abs(p - a), pb = abs(p - up), pc = abs(p - c)
                    predicted = pa <= pb && pa <= pc ? a : pb <= pc ? up : c
                }
                return UInt8(truncatingIfNeeded: x - predicted)
            }
        }
    }

    static func magnitude(_ bytes: [UInt8]) -> Int { bytes.reduce(0) { $0 + abs(Int(Int8(bitPattern: $1))) } }

    @Test(arguments: [1, 2, 3, 4])
    func eachRowIsFilteredAsTheDefinitionSaysWithTheLeastMagnitude(_ bpp: Int) {
        var rng = SeededRandom(seed: UInt64(bpp))
        // Lengths around the 16-byte steps, and rows long enough to fill the 16-bit sums many times.
        for count in [1, 3, 15, 16, 17, 31, 33, 64, 100, 4097, 20_003] where count % bpp == 0 || count > 100 {
            let length = count / bpp * bpp
            guard length > 0 else { continue }
            // Smooth rows (so each filter wins somewhere), noisy rows and rows of extremes.
            for style in 0..<3 {
                func row() -> [UInt8] {
                    (0..<length).map { i in
                        switch style {
                        case 0: UInt8(truncatingIfNeeded: i / 7 + Int.random(in: 0...3, using: &rng))
                        case 1: UInt8.random(in: 0...255, using: &rng)
                        default: [0, 127, 128, 255].randomElement(using: &rng)!
                        }
                    }
                }
                let above = row(), current = row()
                for previous in [above, nil] as [[UInt8]?] {
                    let expected = Self.definitions(current, above: previous, bpp: bpp)
                    var out = [UInt8](repeating: 0, count: length + 1)
                    var scratch = [UInt8](repeating: 0, count: 4 * length)
                    current.withUnsafeBufferPointer { c in
                        (previous ?? []).withUnsafeBufferPointer { p in
                            PNGFilter.filter(c.baseAddress!, above: previous == nil ? nil : p.baseAddress!, count: length, bpp: bpp,
                                             into: &out, scratch: &scratch)
                        }
                    }
                    let chosen = Int(out[0])
                    let allowed = previous == nil ? 0...1 : 0...4
                    #expect(allowed.contains(chosen))
                    #expect(Array(out[1...]) == expected[chosen], "filter \(chosen), \(length) bytes, bpp \(bpp), style \(style)")
                    let least = allowed.map { Self.magnitude(expected[$0]) }.min()!
                    #expect(Self.magnitude(expected[chosen]) == least, "filter \(chosen) is not the least, \(length) bytes")
                }
            }
        }
    }

    @Test func magnitudesOfLongRowsDoNotOverflow() {
        // 128 per byte: 20 000 bytes sum to 2 560 000, past any 16-bit lane or sum.
        let row = [UInt8](repeating: 0x80, count: 20_000)
        #expect(row.withUnsafeBufferPointer { PNGFilter.magnitudes($0.baseAddress!, $0.count) } == 2_560_000)
    }

    /// Images several segments high: a segment holds about 1 MiB of rows.
    static let shapes: [(Int, Int, Int)] = [(2731, 1000, 1), (1500, 700, 3), (999, 1100, 4), (4000, 150, 2), (70, 33, 3)]

    @Test(arguments: 0..<shapes.count)
    func bandsCompressedApartJoinIntoTheWholeImage(_ k: Int) throws {
        let (w, h, c) = Self.shapes[k]
        let image = testImage(width: w, height: h, channels: c, seed: UInt64(300 + k))
        let whole = try Codec.encode(image, as: .png)
        #expect(try Codec.decode(whole).image == image)
        #expect(try Codec.encode(image, as: .png, threads: 3) == whole)
        let step = PNGBands.segmentRows(width: w, channels: c)
        #expect(step % 16 == 0)
        var rng = SeededRandom(seed: UInt64(k))
        for _ in 0..<3 {
            let cuts = Array(Set((0..<Int.random(in: 1...3, using: &rng)).map { _ in
                step * Int.random(in: 0...max(0, (h - 1) / step), using: &rng)
            }).union([0])).sorted()
            let bands = try zip(cuts, cuts.dropFirst() + [h]).map { y0, y1 in
                try PNGBands.compress(image.cropped(to: Rect(x: 0, y: y0, width: w, height: y1 - y0)), y: y0, imageHeight: h)
            }
            #expect(try PNGBands.join(bands, width: w, height: h, channels: c) == whole, "\(w)x\(h)x\(c) cut at \(cuts)")
        }
        // The zlib stream is whole: inflated to its end, its Adler-32 checked.
        let rows = try #require(PNGBands.filteredRows(of: whole))
        #expect(rows.count == h * (w * c + 1))
    }

    @Test func everyLevelWritesAReadablePNGAndOthersAreRefused() throws {
        let image = testImage(width: 300, height: 200, channels: 3, seed: 9)
        for level in 0...9 {
            let band = try PNGBands.compress(image, y: 0, imageHeight: 200, level: level)
            let png = try PNGBands.join([band], width: 300, height: 200, channels: 3)
            #expect(try Codec.decode(png).image == image, "level \(level)")
            #expect(PNGBands.filteredRows(of: png) != nil, "level \(level)")
        }
        #expect(throws: CodecError.self) { try PNGBands.compress(image, y: 0, imageHeight: 200, level: 10) }
    }

    /// A part that does not end the image ends wherever its compressor's last
    /// block happens to end, on any bit of its last byte; it is made to go on
    /// (final bit cleared, an empty stored block to the byte boundary). Many
    /// parts, at every level and of several kinds of content (noise, flat
    /// runs, both), so that every ending is met.
    @Test func partsEndingOnAnyBitJoinAtEveryLevel() throws {
        let (w, c) = (600, 3)
        let step = PNGBands.segmentRows(width: w, channels: c)
        let h = step * 6 + 37
        let noisy = testImage(width: w, height: h, channels: c, seed: 21)
        let flat = Image(width: w, height: h, channels: c) { p in
            for i in 0..<(w * h * c) { p[i] = UInt8((i / (w * c * 7) + i / 4099) % 3 * 90) }
        }
        let mixed = Image(width: w, height: h, channels: c) { p in
            for i in 0..<(w * h * c) { p[i] = (i / (w * c)) % 3 == 0 ? noisy.pixels[i] : flat.pixels[i] }
        }
        var endings = 0
        for (name, image) in [("noise", noisy), ("flat", flat), ("mixed", mixed)] {
            for level in 0...9 {
                let whole = try PNGBands.join([try PNGBands.compress(image, y: 0, imageHeight: h, level: level)],
                                              width: w, height: h, channels: c)
                #expect(try Codec.decode(whole).image == image, "\(name), level \(level)")
                #expect(PNGBands.filteredRows(of: whole)?.count == h * (w * c + 1), "\(name), level \(level)")
                // Each segment alone: all but the last end with the empty stored block, and they join into the whole.
                let bands = try stride(from: 0, to: h, by: step).map { y in
                    try PNGBands.compress(image.cropped(to: Rect(x: 0, y: y, width: w, height: min(step, h - y))), y: y,
                                          imageHeight: h, level: level)
                }
                for band in bands.dropLast() {
                    // (before its IDAT chunk's CRC)
                    #expect(Array(band.data.dropLast(4).suffix(4)) == [0, 0, 0xFF, 0xFF], "\(name), level \(level), row \(band.y)")
                    endings += 1
                }
                #expect(try PNGBands.join(bands, width: w, height: h, channels: c) == whole, "\(name), level \(level)")
            }
        }
        #expect(endings == 3 * 10 * 6)
    }

    @Test func bandsOffTheSegmentsOrWithGapsAreRefused() throws {
        let image = testImage(width: 3000, height: 400, channels: 3, seed: 4)
        let step = PNGBands.segmentRows(width: 3000, channels: 3)
        #expect(throws: CodecError.self) {
            try PNGBands.compress(image.cropped(to: Rect(x: 0, y: 5, width: 3000, height: 100)), y: 5, imageHeight: 400)
        }
        let top = try PNGBands.compress(image.cropped(to: Rect(x: 0, y: 0, width: 3000, height: step)), y: 0, imageHeight: 400)
        #expect(throws: CodecError.self) { try PNGBands.join([top], width: 3000, height: 400, channels: 3) }
    }
}
