import ArgumentParser
import ImageCodecs

/// How a job's result is made, for `submit` and `enqueue` alike.
struct ResultOptions: ParsableArguments {
    @Flag(inversion: .prefixedNo, help: "Set each image upright by its EXIF orientation before the pipeline.")
    var autorotate = true

    @Flag(help: "Keep EXIF, XMP and comments in the results (by default only the colour profile is kept).")
    var keepMetadata = false

    @Option(help: "Format of the results: png, jpeg or webp (default: each original's).")
    var format: String?

    @Option(help: "JPEG and WebP quality of the results, 1...100 (default 90).")
    var quality: Int?

    func validate() throws {
        if let format, ImageFormat(fileExtension: format) == nil { throw ValidationError("--format must be png, jpeg or webp, not '\(format)'") }
        if let quality, !(1...100).contains(quality) { throw ValidationError("--quality must be 1...100, not \(quality)") }
    }

    /// As the upload form's fields.
    var fields: [(String, String)] {
        (autorotate ? [] : [("autorotate", "false")]) + (keepMetadata ? [("keep_metadata", "true")] : []) + (format.map { [("format", $0)] } ?? []) + (quality.map { [("quality", "\($0)")] } ?? [])
    }
}
