import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport

@Suite("JPEG shrink-on-load")
struct ShrinkOnLoadTests {
    func info(_ format: ImageFormat, _ w: Int, _ h: Int) -> ImageInfo { ImageInfo(format: format, width: w, height: h, channels: 3) }

    /// The loaded image stays at least twice the target; only a leading
    /// fit or fill (after the orientation's turns) of a JPEG shrinks.
    @Test func theFactorKeepsTwiceTheTarget() throws {
        func factor(_ ops: String, _ format: ImageFormat = .jpeg, _ w: Int = 6000, _ h: Int = 4000) throws -> Int {
            ShrinkOnLoad.factor(try Pipeline(parsing: ops), source: info(format, w, h))
        }
        #expect(try factor("fit:512x512") == 4)             // 512x341: 1500x1000 loaded
        #expect(try factor("fill:100x100") == 8)            // covers 150x100: 750x500 loaded
        #expect(try factor("rotate:90,fit:512x512") == 4)
        #expect(try factor("fit:2000x2000") == 1)           // 2000x1333: halving leaves less than twice
        #expect(try factor("fit:1500x1500") == 2)
        #expect(try factor("fit:512x512", .png) == 1)
        #expect(try factor("blur:1,fit:512x512") == 1)
        #expect(try factor("grayscale") == 1)
        #expect(try factor("fit:10000x10000") == 1)         // never enlarged
    }

    /// A shrunk decode has the size libjpeg gives (rounded up), its rows
    /// after a skip equal the whole shrunk decode, and it is close to
    /// Pillow's `draft` (the same DCT scaling in Pillow's libjpeg).
    @Test(arguments: [2, 4, 8])
    func shrunkRowsEqualTheWholeShrunkDecode(_ d: Int) throws {
        let source = try Codec.encode(testImage(width: 301, height: 203, channels: 3, seed: 5), as: .jpeg)
        let shrunk = try Codec.decode(source, shrink: d).image
        #expect(shrunk.width == (301 + d - 1) / d && shrunk.height == (203 + d - 1) / d)
        #expect(try Codec.probe(source, shrink: d) == ImageInfo(format: .jpeg, width: shrunk.width, height: shrunk.height, channels: 3))
        let decoder = try RowDecoder(SourceBytes(source), shrink: d)
        let row = shrunk.height / 2
        try decoder.skip(row)
        let rowBytes = shrunk.width * 3
        #expect(try decoder.readRow() == Array(shrunk.pixels[(row * rowBytes)..<((row + 1) * rowBytes)]))
        #expect(throws: CodecError.self) { try Codec.decode(source, shrink: 3) }
        // PNG ignores the factor only when it is 1: the decision never asks it of one.
        let png = try Codec.encode(testImage(width: 20, height: 10, channels: 3, seed: 1), as: .png)
        #expect(try Codec.decode(png, shrink: 1).image.width == 20)
    }
}
