import ImageCodecs
import ImageCore
import Testing
import TestSupport

@Suite("EXIF orientation")
struct OrientationTests {
    @Test(arguments: [ImageFormat.png, .jpeg])
    func readFromEveryOrientation(_ format: ImageFormat) throws {
        let plain = try Codec.encode(testImage(width: 9, height: 5, channels: 3, seed: 1), as: format)
        #expect(Orientation.of(plain) == .upright)
        for value in 1...8 {
            let tagged = withExif(plain, orientation: value)
            #expect(Orientation.of(tagged).rawValue == value)
            #expect(try Codec.decode(tagged).image == Codec.decode(plain).image, "the block changes no pixel")
        }
        #expect(Orientation.of(withExif(plain, orientation: 9)) == .upright, "out of range")
    }

    @Test func brokenBlocksReadAsUpright() throws {
        let plain = try Codec.encode(testImage(width: 9, height: 5, channels: 3, seed: 1), as: .jpeg)
        let tagged = withExif(plain, orientation: 6)
        for cut in [6, 12, 20, 24, 30] {
            var broken = tagged
            broken.replaceSubrange((4 + cut)..<(4 + cut + 4), with: [0xFF, 0xFF, 0xFF, 0xFF])
            _ = Orientation.of(broken)  // must not trap
        }
        #expect(Orientation.of(Array(tagged.prefix(20))) == .upright)
        #expect(Orientation.of([]) == .upright && Orientation.of([0xFF, 0xD8, 0xFF]) == .upright)
    }

    /// Each turn as EXIF defines it, on a 3x2 image: out(x, y) from in(x', y').
    @Test func stepsSetThePixelsUpright() throws {
        let w = 3, h = 2
        let source = testImage(width: w, height: h, channels: 1, seed: 4)
        func at(_ x: Int, _ y: Int) -> UInt8 { source.pixels[y * w + x] }
        let expected: [Orientation: (Int, Int) -> UInt8] = [
            .flipH: { x, y in at(w - 1 - x, y) }, .rotate180: { x, y in at(w - 1 - x, h - 1 - y) },
            .flipV: { x, y in at(x, h - 1 - y) }, .transpose: { x, y in at(y, x) },
            .rotate90: { x, y in at(y, h - 1 - x) }, .transverse: { x, y in at(w - 1 - y, h - 1 - x) },
            .rotate270: { x, y in at(w - 1 - y, x) },
        ]
        for (orientation, pixel) in expected {
            let pipeline = orientation.upright(Pipeline(steps: []))
            let out = Runner.reference(source, plan: try Plan(pipeline, input: source.shape))
            let quarter = [.transpose, .rotate90, .transverse, .rotate270].contains(orientation)
            #expect(out.width == (quarter ? h : w) && out.height == (quarter ? w : h))
            for y in 0..<out.height {
                for x in 0..<out.width { #expect(out.pixels[y * out.width + x] == pixel(x, y), "\(orientation) at \(x),\(y)") }
            }
        }
    }
}
