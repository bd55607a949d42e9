import ArgumentParser
import Foundation
import ImageCodecs
import ImageCore

struct ProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Process one image in this process (the reference result).",
        discussion: """
            This is the reference every distributed run must equal byte for byte.
            A one-stage pipeline written as JPEG or PNG runs in strips of rows:
            each strip's rows are decoded when it needs them and it is encoded
            as soon as it is made, so memory holds a strip and the compressed
            result, not the image. Other pipelines (canny, clahe, a vertical
            flip) and WebP or AVIF output hold the whole image. With --tile N
            it is cut into NxN tiles processed one by one and stitched. The
            result is the same every way. The output format comes from OUT's extension (.png, .jpg, .jpeg, .webp, .avif).

            Example: imgproc process photo.jpg edges.png --ops grayscale,blur:1.5,canny:50:150
            """
    )

    @Argument(help: "Input image (PNG, JPEG, WebP or AVIF, recognised by its content).")
    var input: String

    @Argument(help: "Output image; .png, .jpg, .jpeg, .webp or .avif.")
    var output: String

    @Option(help: "Pipeline, e.g. 'grayscale,blur:3'. See 'imgproc ops'.")
    var ops: String

    @Option(help: "Process in NxN tiles (1...65536) instead of the whole image at once.")
    var tile: Int?

    @Option(help: "JPEG, WebP and AVIF quality, 1...100.")
    var quality: Int = 90

    @Option(help: "deflate level of a PNG result, 0 (stored) to 9 (smallest, slowest).")
    var pngLevel: Int = PNGBands.defaultLevel

    @Option(help: "Refuse images larger than this many megapixels (checked from the header).")
    var maxMegapixels: Int = 100

    @Flag(inversion: .prefixedNo, help: "Set the image upright by its EXIF orientation before the pipeline.")
    var autorotate = true

    @Flag(help: "Keep EXIF, XMP and comments (by default only the colour profile is kept).")
    var keepMetadata = false

    @Option(help: "srgb: convert the pixels to sRGB through the image's ICC profile, and drop the profile.")
    var colorspace = "source"

    func validate() throws {
        if let tile, !(1...65536).contains(tile) { throw ValidationError("--tile must be 1...65536, not \(tile)") }
        if !["srgb", "source"].contains(colorspace) { throw ValidationError("--colorspace must be srgb or source, not '\(colorspace)'") }
        if !(1...100).contains(quality) { throw ValidationError("--quality must be 1...100, not \(quality)") }
        if !(0...9).contains(pngLevel) { throw ValidationError("--png-level must be 0...9, not \(pngLevel)") }
        if maxMegapixels < 1 { throw ValidationError("--max-megapixels must be at least 1") }
    }

    func run() throws {
        var pipeline: Pipeline
        do { pipeline = try Pipeline(parsing: ops) } catch { throw CLIError("\(error)") }
        let ext = URL(fileURLWithPath: output).pathExtension
        guard let format = ImageFormat(fileExtension: ext) else {
            throw CLIError("cannot tell the output format from '\(output)': use .png, .jpg, .jpeg, .webp or .avif")
        }
        let bytes = try readFile(input)
        let maxPixels = maxMegapixels * 1_000_000
        if autorotate { pipeline = Orientation.of(bytes).upright(pipeline) }
        let metadata = Metadata.read(bytes).kept(keepMetadata ? .all : .profile, upright: autorotate, inSRGB: colorspace == "srgb")
        let limits = DecodeLimits(maxPixels: maxPixels)
        let shrink: Int, shape: Shape
        do {
            let full = try Codec.probe(bytes)
            try limits.check(full)
            shrink = ShrinkOnLoad.factor(pipeline, source: full)
            let info = try Codec.probe(bytes, shrink: shrink)
            shape = Shape(width: info.width, height: info.height, channels: info.channels)
        } catch {
            throw CLIError("\(input): \(error)")
        }
        let plan: Plan
        do { plan = try Plan(pipeline, input: shape, maxPixels: maxPixels) } catch { throw CLIError("\(error)") }
        let encoded: [UInt8]
        do {
            if tile == nil && StreamedRun.streams(plan, as: format) {
                // Strip by strip: rows decoded as needed, each strip encoded as it is made.
                let rows = try RowCache(SourceBytes(bytes), limits: limits, toSRGB: colorspace == "srgb", shrink: shrink)
                encoded = try metadata.written(into: StreamedRun.run(rows, plan: plan, as: format, quality: quality,
                                                                     pngLevel: pngLevel, threads: ProcessInfo.processInfo.activeProcessorCount))
            } else {
                let image = try Codec.decode(bytes, limits: limits, toSRGB: colorspace == "srgb", shrink: shrink).image
                let result = tile.map { Runner.tiled(image, plan: plan, tileSize: $0) } ?? Runner.reference(image, plan: plan)
                encoded = try metadata.written(into: Codec.encode(result, as: format, quality: quality, pngLevel: pngLevel,
                                                                  threads: ProcessInfo.processInfo.activeProcessorCount))
            }
        } catch { throw CLIError("\(input): \(error)") }
        try writeFile(output, encoded)
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            throw CLIError("\(path) is a directory, not an image")
        }
        throw CLIError("cannot read \(path): no such file or no permission")
    }
    return [UInt8](data)
}

/// Writes via a temporary file and a rename, so a failed run never leaves half a file.
func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let url = URL(fileURLWithPath: path)
    do {
        try Data(bytes).write(to: url, options: .atomic)
    } catch {
        throw CLIError("cannot write \(path): \(error.localizedDescription)")
    }
}
