import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport

/// Photos with each EXIF orientation, written by Pillow, set upright as
/// Pillow's `ImageOps.exif_transpose` does: the same pixels (PNG), or within
/// ±1 where the two JPEG decoders may round differently.
@Suite("EXIF orientation matches Pillow", .enabled(if: peersAvailable, "python3 with PIL is not installed (make deps)"))
struct OrientationPillowTests {
    static let code = """
        import sys, numpy as np
        from PIL import Image, ImageOps
        path, orientation, fmt, upright = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        pixels = np.random.default_rng(orientation).integers(0, 256, (23, 37, 3), dtype=np.uint8)
        exif = Image.Exif()
        exif[0x0112] = orientation
        exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}
        Image.fromarray(pixels).save(path, fmt, exif=exif.tobytes(), quality=95)
        ImageOps.exif_transpose(Image.open(path)).convert("RGB").save(upright, "PNG")
        """

    @Test(arguments: ["PNG", "JPEG"], 1...8)
    func uprightAsPillow(_ format: String, _ orientation: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("photo"), upright = dir.path("upright.png")
        let made = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", Self.code, path, "\(orientation)", format, upright])
        try #require(made.status == 0, "\(made.stderr)")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(Orientation.of(bytes).rawValue == orientation)
        let stored = try Codec.decode(bytes).image
        let pipeline = Orientation.of(bytes).upright(Pipeline(steps: []))
        let ours = pipeline.steps.isEmpty ? stored : Runner.reference(stored, plan: try Plan(pipeline, input: stored.shape))
        let theirs = try Codec.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: upright)))).image
        #expect(ours.shape == theirs.shape)
        let worst = zip(ours.pixels, theirs.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(worst <= (format == "PNG" ? 0 : 1), "\(format) orientation \(orientation): differs by up to \(worst)")
    }
}
