import ArgumentParser
import ImageCodecs

/// How a job's result is made, for `submit` and `enqueue` alike.
struct ResultOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Set each image upright by its EXIF orientation before the pipeline.")
    var autorotate = true

    @Flag(help: "Keep EXIF, XMP and comments in the results (by default only the colour profile is kept).")
    var keepMetadata = false

    @Option(help: "srgb: convert the pixels to sRGB through each original's ICC profile, and drop the profile.")
    var colorspace: String?

    @Option(help: "Format of the results: png, jpeg, webp or avif (default: each original's).")
    var format: String?

    @Option(help: "JPEG, WebP and AVIF quality of the results, 1...100 (default 90).")
    var quality: Int?

    @Option(help: "deflate level of PNG results, 0 (stored) to 9 (smallest, slowest); default 1.")
    var pngLevel: Int?

    func validate() throws {
        if let format, ImageFormat(fileExtension: format) == nil { throw ValidationError("--format must be png, jpeg, webp or avif, not '\(format)'") }
        if let colorspace, !["srgb", "source"].contains(colorspace) { throw ValidationError("--colorspace must be srgb or source, not '\(colorspace)'") }
        if let quality, !(1...100).contains(quality) { throw ValidationError("--quality must be 1...100, not \(quality)") }
        if let pngLevel, !(0...9).contains(pngLevel) { throw ValidationError("--png-level must be 0...9, not \(pngLevel)") }
    }

    /// As the upload form's fields.
    var fields: [(String, String)] {
        var fields: [(String, String)] = []
        if !autorotate { fields.append(("autorotate", "false")) }
        if keepMetadata { fields.append(("keep_metadata", "true")) }
        if let colorspace { fields.append(("colorspace", colorspace)) }
        if let format { fields.append(("format", format)) }
        if let quality { fields.append(("quality", String(quality))) }
        if let pngLevel { fields.append(("png_level", String(pngLevel))) }
        return fields
    }
}
