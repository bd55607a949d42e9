import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport

/// Python with OpenCV and Pillow, the peers users check us against.
let peersAvailable: Bool = {
    guard let python = try? run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", "import cv2, PIL"]) else { return false }
    return python.status == 0
}()

/// Our kernels against OpenCV's on the same pixels: within ±1 per sample
/// away from the border (the border too, for most operations).
@Suite("Operations match OpenCV", .enabled(if: peersAvailable, "python3 with cv2 and PIL is not installed (make deps)"))
struct OpenCVComparisonTests {
    static let script = packageRoot.appendingPathComponent("Tests/OpenCVTests/opencv_reference.py").path

    /// Operation, and the margin of border pixels left out of the comparison.
    static let cases: [(String, Int)] = [
        ("grayscale", 0), ("invert", 0), ("brightness:-40", 0), ("contrast:1.7", 0), ("gamma:0.6", 0),
        ("blur:0.6", 0), ("blur:2.5", 0), ("boxblur:3", 0), ("median:1", 0), ("median:3", 0), ("median:6", 0),
        ("sharpen:1.5:2", 0), ("sobel", 0), ("canny:50:150", 0), ("canny:100:200", 0),
        ("clahe:2:8", 0), ("clahe:4:3", 0), ("clahe:0:5", 0),
        ("resize:0.5", 0), ("resize:0.31", 0), ("resize:1.9", 0), ("resize:97x203", 0),
        ("rotate:90", 0), ("rotate:180", 0), ("rotate:270", 0), ("flip:h", 0), ("flip:v", 0),
    ]

    func opencv(_ spec: String, _ image: Image, in dir: TemporaryDirectory) throws -> Image {
        let input = dir.path("in.png"), output = dir.path("cv.png")
        try Data(Codec.encode(image, as: .png)).write(to: URL(fileURLWithPath: input))
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", Self.script, input, output, spec])
        guard result.status == 0 else { throw CodecError(.corrupt, "opencv_reference.py failed: \(result.stderr)") }
        return try Codec.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: output)))).image
    }

    @Test(arguments: cases.map(\.0), [1, 3])
    func withinOne(_ spec: String, _ channels: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        for (k, (w, h)) in [(211, 157), (64, 64)].enumerated() {
            var image = testImage(width: w, height: h, channels: channels, seed: UInt64(40 + k))
            if k == 1 {
                // Random colours: every corner of the colour cube, for grayscale and Lab.
                var rng = SeededRandom(seed: 5)
                image.pixels = image.pixels.map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            let ours = Runner.reference(image, plan: try Plan(try Pipeline(parsing: spec), input: image.shape))
            let theirs = try opencv(spec, image, in: dir)
            #expect(ours.shape == theirs.shape, "\(spec)")
            guard ours.shape == theirs.shape else { continue }
            let margin = Self.cases.first { $0.0 == spec }!.1
            var worst = 0, over = 0
            for y in margin..<(ours.height - margin) {
                for x in margin..<(ours.width - margin) {
                    for c in 0..<ours.channels {
                        let d = abs(Int(ours[x, y, c]) - Int(theirs[x, y, c]))
                        worst = max(worst, d)
                        if d > 1 { over += 1 }
                    }
                }
            }
            // Canny's output is 0 or 255: a tie broken differently moves an edge pixel.
            if spec.hasPrefix("canny") {
                let differing = zip(ours.pixels, theirs.pixels).filter { $0 != $1 }.count
                #expect(differing * 1000 <= ours.pixels.count, "\(spec) \(w)x\(h)x\(channels): \(differing) edge pixels differ")
            } else {
                #expect(worst <= 1, "\(spec) \(w)x\(h)x\(channels): max difference \(worst), \(over) samples over 1")
            }
        }
    }
}

/// Our PNG decoding against Pillow's on every PngSuite file: palettes, bit
/// depths, interlacing. Files with tRNS are left out: Pillow's conversion of
/// 1-bit images to LA ignores it.
@Suite("PNG decoding matches Pillow",
       .enabled(if: peersAvailable && sharedTestData != nil, "needs python3 with PIL and ../shared/testdata"))
struct PillowComparisonTests {
    static func hasTransparencyChunk(_ bytes: [UInt8]) -> Bool {
        var i = 8
        while i + 8 <= bytes.count {
            let length = bytes[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) }
            let type = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
            if type == "tRNS" { return true }
            i += 12 + length
        }
        return false
    }

    /// imgproc's own PNGs, several deflate segments long and every channel
    /// count, read by Pillow and by OpenCV (each its own PNG reader) give
    /// the pixels written (OpenCV reads gray with alpha as BGRA: its gray is
    /// compared). `PNGWriterTests` checks the stream's Adler-32.
    @Test(arguments: [1, 2, 3, 4])
    func writtenPNGsReadBackInPillowAndOpenCV(_ channels: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = testImage(width: 1500, height: 700, channels: channels, seed: UInt64(80 + channels))
        let path = dir.path("ours.png")
        try Data(Codec.encode(image, as: .png)).write(to: URL(fileURLWithPath: path))
        let code = """
            import sys, numpy as np, cv2
            from PIL import Image
            im = Image.open(sys.argv[1]); im.load()
            a = np.array(im).reshape(-1)
            b = cv2.imread(sys.argv[1], cv2.IMREAD_UNCHANGED)
            if im.mode != "LA":  # OpenCV reads gray with alpha as BGRA
                if b.ndim == 3 and b.shape[2] == 3: b = cv2.cvtColor(b, cv2.COLOR_BGR2RGB)
                if b.ndim == 3 and b.shape[2] == 4: b = cv2.cvtColor(b, cv2.COLOR_BGRA2RGBA)
                assert np.array_equal(a, b.reshape(-1)), "Pillow and OpenCV differ"
            else:
                assert np.array_equal(a.reshape(-1, 2)[:, 0], b[:, :, 0].reshape(-1)), "Pillow and OpenCV differ"
            sys.stdout.buffer.write(a.tobytes())
            """
        let out = dir.path("read.raw")
        let result = try run(URL(fileURLWithPath: "/bin/sh"), ["-c", "python3 -c '\(code)' \"$0\" > \"$1\"", path, out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: out))) == image.pixels, "\(channels) channels")
    }

    @Test func pngSuiteDecodesAsPillowDoes() throws {
        let root = sharedTestData!.appendingPathComponent("png/pngsuite")
        let names = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasSuffix(".png") }.sorted()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var compared = 0
        for name in names {
            let bytes = [UInt8](try Data(contentsOf: root.appendingPathComponent(name)))
            if Self.hasTransparencyChunk(bytes) { continue }
            let ours = try Codec.decode(bytes).image
            // Pillow's pixels, scaled to 8 bits the way we do, as raw bytes.
            let mode = ["L", "LA", "RGB", "RGBA"][ours.channels - 1]
            let code = """
                import sys, numpy as np
                from PIL import Image
                im = Image.open(sys.argv[1])
                a = np.array(im)
                if im.mode.startswith("I"):
                    im = Image.fromarray(np.round(a.astype(np.float64) * 255 / 65535).astype(np.uint8))
                sys.stdout.buffer.write(im.convert("\(mode)").tobytes())
                """
            let out = dir.path("pil.raw")
            let result = try run(URL(fileURLWithPath: "/bin/sh"),
                                 ["-c", "python3 -c '\(code)' \"$0\" > \"$1\"", root.appendingPathComponent(name).path, out])
            #expect(result.status == 0, "\(name): \(result.stderr)")
            let theirs = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
            // Pillow truncates 16-bit colour samples (v >> 8) where we round: allow 1 there.
            let tolerance = bytes[24] == 16 ? 1 : 0
            let worst = zip(theirs, ours.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            #expect(theirs.count == ours.pixels.count && worst <= tolerance,
                    "\(name) differs from Pillow by up to \(worst) (\(theirs.count) vs \(ours.pixels.count) bytes)")
            compared += 1
        }
        #expect(compared >= 30, "compared \(compared) files")
    }
}
