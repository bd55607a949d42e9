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
