import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport

/// What distributed runs rely on: rows of a band decode exactly as in a full
/// decode, and JPEG bands encoded apart join into the whole image's bytes.
@Suite("Bands")
struct BandTests {
    /// Sizes around MCU boundaries (16 rows for 4:2:0 colour, 8 for gray), primes and tiny ones.
    static let shapes: [(Int, Int, Int)] = [(1, 1, 3), (17, 33, 3), (64, 48, 1), (97, 61, 3), (131, 200, 1), (257, 129, 3),
                                            (40, 17, 4), (33, 70, 2)]

    @Test(arguments: 0..<shapes.count)
    func jpegBandsJoinIntoTheWholeImage(_ k: Int) throws {
        let (w, h, c) = Self.shapes[k]
        let image = testImage(width: w, height: h, channels: c, seed: UInt64(100 + k))
        let whole = try Codec.encode(image, as: .jpeg, quality: 87)
        var rng = SeededRandom(seed: UInt64(k))
        // Several random cuttings at multiples of 16 rows, one band per cut.
        for _ in 0..<4 {
            let cuts = Array(Set((0..<Int.random(in: 0...4, using: &rng)).map { _ in
                16 * Int.random(in: 0...max(0, (h - 1) / 16), using: &rng)
            }).union([0])).sorted().filter { $0 < h }
            let bands = try zip(cuts, cuts.dropFirst() + [h]).map { y0, y1 in
                (y: y0, bytes: try Codec.encode(image.cropped(to: Rect(x: 0, y: y0, width: w, height: y1 - y0)),
                                                as: .jpeg, quality: 87))
            }
            #expect(try JPEGBands.join(bands, height: h) == whole, "\(w)x\(h)x\(c) cut at \(cuts)")
        }
    }

    @Test func jpegOutputHasARestartMarkerPerMCURow() throws {
        let image = testImage(width: 80, height: 64, channels: 3, seed: 1)
        let bytes = try Codec.encode(image, as: .jpeg)
        let markers = zip(bytes, bytes.dropFirst()).filter { $0 == 0xFF && (0xD0...0xD7).contains($1) }.count
        #expect(markers == 64 / 16 - 1)
        #expect(try Codec.decode(bytes).image.shape == image.shape)
    }

    @Test func bandsOutOfOrderOrOffTheMCUGridAreRefused() throws {
        let image = testImage(width: 32, height: 48, channels: 3, seed: 2)
        let a = try Codec.encode(image.cropped(to: Rect(x: 0, y: 0, width: 32, height: 20)), as: .jpeg)
        let b = try Codec.encode(image.cropped(to: Rect(x: 0, y: 20, width: 32, height: 28)), as: .jpeg)
        #expect(throws: CodecError.self) { try JPEGBands.join([(0, a), (20, b)], height: 48) }
        #expect(throws: CodecError.self) { try JPEGBands.join([(16, a)], height: 48) }
    }

    /// Any band of rows, read after skipping the rows above it, equals those rows of a full decode.
    @Test(arguments: [ImageFormat.jpeg, .png])
    func rowsAfterASkipEqualAFullDecode(_ format: ImageFormat) throws {
        for (k, (w, h, c)) in Self.shapes.enumerated() where !(format == .jpeg && (c == 2 || c == 4)) {
            let bytes = try Codec.encode(testImage(width: w, height: h, channels: c, seed: UInt64(k)), as: format)
            let full = try Codec.decode(bytes).image
            var rng = SeededRandom(seed: UInt64(7 * k))
            for _ in 0..<5 {
                let y0 = Int.random(in: 0..<h, using: &rng), y1 = Int.random(in: (y0 + 1)...h, using: &rng)
                let decoder = try RowDecoder(SourceBytes(bytes))
                try decoder.skip(y0)
                var rows: [UInt8] = []
                for _ in y0..<y1 { rows += try decoder.readRow() }
                let expected = full.cropped(to: Rect(x: 0, y: y0, width: w, height: y1 - y0)).pixels
                #expect(rows == expected, "\(format) \(w)x\(h)x\(c) rows \(y0)..<\(y1)")
            }
        }
    }

    /// A JPEG with a restart marker per MCU row (as imgproc writes them) is
    /// decoded from the restart point above the rows asked for, not from the
    /// top, and the rows equal a full decode: colour and gray, every shrink,
    /// bands anywhere (right below a restart point too).
    @Test func rowsFromARestartPointEqualAFullDecode() throws {
        for (k, (w, h, c)) in [(300, 700, 3), (257, 1000, 1), (64, 2100, 3), (1000, 133, 3)].enumerated() {
            let bytes = try Codec.encode(testImage(width: w, height: h, channels: c, seed: UInt64(60 + k)), as: .jpeg, quality: 85)
            for shrink in [1, 2, 4, 8] {
                let full = try Codec.decode(bytes, shrink: shrink).image
                let mcu = (c == 1 ? 8 : 16) / shrink
                var rng = SeededRandom(seed: UInt64(shrink + 10 * k))
                // Bands at random, and starting on each of the rows around a restart point.
                let around = (0..<(3 * mcu)).map { 8 * mcu + $0 - mcu }
                for y0 in (0..<8).map({ _ in Int.random(in: 0..<full.height, using: &rng) }) + around where y0 < full.height {
                    let y1 = min(full.height, y0 + Int.random(in: 1...40, using: &rng))
                    let cache = try RowCache(SourceBytes(bytes), shrink: shrink)
                    let rect = Rect(x: 0, y: y0, width: full.width, height: y1 - y0)
                    #expect(try cache.region(rect).image == full.cropped(to: rect), "\(w)x\(h)x\(c) 1/\(shrink) rows \(y0)..<\(y1)")
                    // A restart point every 8 MCU rows, one MCU row of margin above the band.
                    #expect(cache.rowsSkipped <= 9 * mcu, "\(w)x\(h)x\(c) 1/\(shrink) rows \(y0): skipped \(cache.rowsSkipped)")
                }
                // Down the image after a band at the top: a second decoder, from a restart point.
                let cache = try RowCache(SourceBytes(bytes), shrink: shrink)
                let top = Rect(x: 0, y: 0, width: full.width, height: min(full.height, 5))
                let low = Rect(x: 0, y: full.height * 3 / 4, width: full.width, height: full.height - full.height * 3 / 4)
                #expect(try cache.region(top).image == full.cropped(to: top))
                #expect(try cache.region(low).image == full.cropped(to: low))
                if low.y - top.maxY > 9 * mcu { #expect(cache.decodersOpened == 2 && cache.rowsSkipped <= 9 * mcu) }
            }
        }
    }

    /// A JPEG decoded in bands on several threads, each from a restart point,
    /// gives the pixels of one decode; files without restart points are left
    /// to the one decoder.
    @Test func bandsDecodedAtOnceEqualOneDecode() throws {
        for (k, (w, h, c)) in [(300, 700, 3), (257, 1000, 1), (1000, 133, 3)].enumerated() {
            let bytes = try Codec.encode(testImage(width: w, height: h, channels: c, seed: UInt64(70 + k)), as: .jpeg, quality: 85)
            for shrink in [1, 4] {
                for threads in [2, 3] {
                    let banded = try bytes.withUnsafeBytes { raw in
                        try Codec.decodeInBands(raw, limits: .default, toSRGB: false, shrink: shrink, threads: threads)
                    }
                    #expect(try #require(banded) == Codec.decode(bytes, shrink: shrink).image, "\(w)x\(h)x\(c) 1/\(shrink) \(threads) bands")
                }
            }
        }
        let png = try Codec.encode(testImage(width: 300, height: 700, channels: 3, seed: 1), as: .png)
        #expect(try png.withUnsafeBytes { try Codec.decodeInBands($0, limits: .default, toSRGB: false, shrink: 1, threads: 2) } == nil)
    }

    /// Progressive, arithmetic-coded and interlaced files too.
    @Test func rowsOfSharedTestImagesEqualAFullDecode() throws {
        guard let data = sharedTestData else { return }
        let files = ["jpeg/testorig.jpg", "jpeg/testimgint.jpg", "jpeg/testimgari.jpg",
                     "png/pngsuite/basi2c08.png", "png/pngsuite/basn3p04.png", "png/pngsuite/basi4a16.png"]
        for name in files {
            guard let bytes = FileManager.default.contents(atPath: data.appendingPathComponent(name).path) else { continue }
            let full = try Codec.decode([UInt8](bytes)).image
            let cache = try RowCache(SourceBytes([UInt8](bytes)))
            let rect = Rect(x: full.width / 3, y: full.height / 2, width: full.width / 2, height: full.height / 3)
            #expect(try cache.region(rect).image == full.cropped(to: rect), "\(name)")
            let above = Rect(x: 0, y: 1, width: full.width, height: full.height / 4)
            #expect(try cache.region(above).image == full.cropped(to: above), "\(name), rows above the decoder")
            #expect(cache.decodersOpened == 2)
        }
    }

    @Test func theRowCacheDecodesForwardAndDropsRows() throws {
        let image = testImage(width: 50, height: 90, channels: 3, seed: 4)
        let bytes = try Codec.encode(image, as: .jpeg)
        let full = try Codec.decode(bytes).image
        let cache = try RowCache(SourceBytes(bytes))
        for y in stride(from: 0, to: 90, by: 10) {
            let rect = Rect(x: 5, y: y, width: 30, height: min(14, 90 - y))
            #expect(try cache.region(rect).image == full.cropped(to: rect))
            cache.drop(outside: y..<90)
        }
        #expect(cache.decodersOpened == 1, "moving down the image needs one decoder")
        #expect(cache.rowsHeld <= 14)
        // A truncated file fails when its missing rows are asked for, not before.
        let cut = try RowCache(SourceBytes(Array(bytes.prefix(bytes.count / 2))))
        #expect(try cut.region(Rect(x: 0, y: 0, width: 50, height: 8)).image == full.cropped(to: Rect(x: 0, y: 0, width: 50, height: 8)))
        let error = #expect(throws: CodecError.self) { try cut.region(Rect(x: 0, y: 80, width: 50, height: 10)) }
        #expect(error?.message.contains("truncated") == true, "\(error?.message ?? "")")
    }
}

/// Files built to cost far more than their size: each is refused or decoded
/// cheaply, and each check can fail.
@Suite("Decoder limits")
struct DecoderLimitTests {
    /// A legal progressive JPEG of one 8x8 gray block, every coefficient sent
    /// bit by bit: 14 scans for DC and 14 for each AC band used. All
    /// coefficients are 0, so the image is flat 128.
    static func progressiveJPEG(acBands: Int) -> [UInt8] {
        var b: [UInt8] = [0xFF, 0xD8]
        b += [0xFF, 0xDB, 0, 67, 0] + [UInt8](repeating: 1, count: 64)                       // DQT: table 0, all 1
        b += [0xFF, 0xC2, 0, 11, 8, 0, 8, 0, 8, 1, 1, 0x11, 0]                               // SOF2: 8x8, 1 component
        for table in [0x00, 0x10] as [UInt8] {                                               // DHT: one code '0' -> symbol 0
            b += [0xFF, 0xC4, 0, 20, table, 1] + [UInt8](repeating: 0, count: 15) + [0]
        }
        func scan(_ ss: UInt8, _ se: UInt8, _ ah: UInt8, _ al: UInt8) {
            b += [0xFF, 0xDA, 0, 8, 1, 1, 0x00, ss, se, ah << 4 | al, 0x7F]                   // one bit '0', padded with 1s
        }
        scan(0, 0, 0, 13)
        for al in stride(from: 12, through: 0, by: -1) { scan(0, 0, UInt8(al + 1), UInt8(al)) }
        for band in 1...acBands {
            scan(UInt8(band), UInt8(band), 0, 13)
            for al in stride(from: 12, through: 0, by: -1) { scan(UInt8(band), UInt8(band), UInt8(al + 1), UInt8(al)) }
        }
        return b + [0xFF, 0xD9]
    }

    @Test func aJPEGWithMoreThan500ScansIsRefused() throws {
        let few = Self.progressiveJPEG(acBands: 20)      // 14 + 20 * 14 = 294 scans
        let image = try Codec.decode(few).image
        #expect(image.shape == Shape(width: 8, height: 8, channels: 1) && image.pixels.allSatisfy { $0 == 128 })
        try Codec.checkComplete(few, format: .jpeg)
        let many = Self.progressiveJPEG(acBands: 63)     // 14 + 63 * 14 = 896 scans
        let error = #expect(throws: CodecError.self) { try Codec.decode(many) }
        #expect(error?.code == .unsupported && error?.message.contains("more than 500 scans") == true, "\(error?.message ?? "")")
        let refused = #expect(throws: CodecError.self) { try Codec.checkComplete(many, format: .jpeg) }
        #expect(refused?.message.contains("896 scans") == true, "\(refused?.message ?? "")")
    }

    /// PNG chunks of the given type and data, each with its CRC.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        let n = data.count
        return [UInt8(n >> 24 & 255), UInt8(n >> 16 & 255), UInt8(n >> 8 & 255), UInt8(n & 255)] + body
            + withUnsafeBytes(of: crc32(body).bigEndian) { Array($0) }
    }

    /// 1000 compressed text chunks of 8 KB, each inflating to 8 MB: libpng's
    /// own limits would still inflate every one (8 GB, tens of seconds of
    /// CPU); text is skipped unread, so decoding costs next to nothing.
    @Test func compressedTextIsSkippedUnread() throws {
        let png = try Codec.encode(Image(width: 2, height: 2, channels: 1, value: 9), as: .png)
        let bomb = Self.chunk("zTXt", Array("Bomb\0".utf8) + [0] + (try deflate([UInt8](repeating: 0, count: 8 << 20))))
        var file = Array(png[0..<33])
        for _ in 0..<1000 { file += bomb }
        file += png[33...]
        func cpu() -> Double {
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        }
        // CPU time of this process, so other tests running meanwhile do not count.
        let start = cpu()
        let image = try Codec.decode(file).image
        let spent = cpu() - start
        #expect(image.pixels == [9, 9, 9, 9])
        #expect(spent < 1, "decoding took \(spent) s of CPU")
    }

    /// zlib's deflate through the system's python3 (tests only).
    func deflate(_ bytes: [UInt8]) throws -> [UInt8] {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data(bytes).write(to: URL(fileURLWithPath: dir.path("in")))
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c",
            "import zlib,sys; open(sys.argv[2],'wb').write(zlib.compress(open(sys.argv[1],'rb').read(), 9))", dir.path("in"), dir.path("out")])
        guard r.status == 0 else { throw CodecError(.corrupt, "python3 zlib: \(r.stderr)") }
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.path("out"))))
    }
}
