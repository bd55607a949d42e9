import Foundation
import ImageCodecs
import ImageCore
import Jobs

/// What an upload asks of its jobs, from form fields or the query (a form
/// field wins): the pipeline, and options each refused with a 400 naming
/// what is accepted.
struct JobOptions {
    var ops: String
    /// Nil: the server's default.
    var tiling: Tiling?
    var autorotate = true
    /// Nil: the original's format.
    var output: ImageFormat?
    var quality: Int?
    /// PNG's deflate level 0...9; nil: the default.
    var pngLevel: Int?
    /// The colour profile only, unless `keep_metadata=true`.
    var metadata = Metadata.Policy.profile
    /// `colorspace=srgb`: pixels converted to sRGB through the source's profile, which is dropped.
    var toSRGB = false
    var dedupe = true

    /// - Parameter accept: the request's `Accept` header, for `format=auto`.
    init(accept: String? = nil, _ value: (String) -> String?) throws(APIError) {
        guard let ops = value("ops"), !ops.isEmpty else {
            throw APIError(.badRequest, .badPipeline, "give a pipeline with the 'ops' field or ?ops=, e.g. ops=grayscale,blur:2")
        }
        self.ops = ops
        if let text = value("tile") {
            guard let tiling = JobSubmission.tiling(text) else {
                throw APIError(.badRequest, .badTile, "\(JobSubmission.tilingHelp), not '\(text)'")
            }
            self.tiling = tiling
        }
        if let text = value("format"), text != "source" {
            if text == "auto" {
                output = Self.accepts("image/avif", accept) ? .avif : Self.accepts("image/webp", accept) ? .webp : nil
            } else {
                guard let format = ImageFormat(fileExtension: text) else {
                    throw Self.bad("format", "png, jpeg, webp, avif, auto (AVIF or WebP when Accept allows it) or source (the original's)", text)
                }
                output = format
            }
        }
        if let text = value("quality") {
            guard let quality = Int(text), (1...100).contains(quality) else { throw Self.bad("quality", "an integer in 1...100 (JPEG, WebP, AVIF)", text) }
            self.quality = quality
        }
        if let text = value("png_level") {
            guard let level = Int(text), (0...9).contains(level) else {
                throw Self.bad("png_level", "an integer in 0...9 (the deflate level of PNG results: 0 stores, 9 packs tightest; default \(PNGBands.defaultLevel))", text)
            }
            pngLevel = level
        }
        autorotate = try Self.flag("autorotate", value) ?? true
        dedupe = try Self.flag("dedupe", value) ?? true
        if try Self.flag("keep_metadata", value) == true { metadata = .all }
        if let text = value("colorspace") {
            guard ["srgb", "source"].contains(text.lowercased()) else {
                throw Self.bad("colorspace", "srgb (convert through the source's ICC profile) or source (keep the pixels and the profile)", text)
            }
            toSRGB = text.lowercased() == "srgb"
        }
    }

    /// Whether an `Accept` header names `type` with a quality above 0 (a
    /// wildcard does not count: browsers send `*/*` for everything).
    static func accepts(_ type: String, _ accept: String?) -> Bool {
        (accept ?? "").split(separator: ",").contains { item in
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard parts.first == type else { return false }
            return !parts.dropFirst().contains { $0.replacingOccurrences(of: " ", with: "").range(of: #"^q=0(\.0*)?$"#, options: .regularExpression) != nil }
        }
    }

    private static func flag(_ name: String, _ value: (String) -> String?) throws(APIError) -> Bool? {
        guard let text = value(name) else { return nil }
        switch text.lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: throw bad(name, "true or false", text)
        }
    }

    private static func bad(_ name: String, _ accepted: String, _ text: String) -> APIError {
        APIError(.badRequest, .badOption, "\(name) must be \(accepted), not '\(text.prefix(40))'")
    }
}
