import Failure
import Foundation
import ImageCodecs
import ImageCore
import TileStore

/// The limits a submission is checked against, from the header and the
/// pipeline alone. They travel with the job (its `max_pixels` field), so the
/// workers apply the same ones.
public struct JobLimits: Sendable {
    /// Largest image: the input and every stage's output.
    public var maxPixels = 100_000_000
    /// Largest estimated work of a job, in seconds of one core (``Cost``).
    public var maxCost = 30.0
    /// Images up to this many pixels (input and every stage) run whole on one
    /// rank unless a tiling is given: distributing them costs more than it gains.
    public var wholeMaxPixels = 4_000_000

    public init() {}
}

/// An upload checked from its header and laid out as a job, ready to be
/// submitted to Redis. Nothing is decoded: the format comes from the magic
/// bytes, the size from the header, and the tiles are descriptors only (the
/// workers decode the original). The CLI and the HTTP server both submit
/// jobs this way.
public struct JobSubmission: Sendable {
    public let id: String
    public let fields: [String: String]
    public let tiles: [StageTile]
    public let source: [UInt8]
    public let format: ImageFormat
    public let info: ImageInfo
    /// Estimated seconds of one core the job takes (``Cost``).
    public let cost: Double
    /// What makes two uploads the same job: the bytes, the pipeline run (with
    /// the orientation's steps) and the result's format, quality, PNG level, metadata and colour space. The
    /// tiling is left out: it never changes the result.
    public let sameUploadDigest: String
    /// Seconds spent checking and laying out.
    public let preparationSeconds: Double

    /// Why a submission was refused; a ``CodecError`` is the cause when the image is at fault.
    public typealias Refusal = CodedError<RefusalCode>

    public enum RefusalCode: String, Sendable {
        case badPipeline = "bad_pipeline", badImage = "bad_image", tooCostly = "too_costly", badOption = "bad_option"
    }


    /// - Parameters:
    ///   - bytes: the encoded image, as uploaded.
    ///   - ops: pipeline text.
    ///   - tiling: how to cut the image (tiles grow when their halo would be
    ///     too large for them); nil runs images up to `limits.wholeMaxPixels`
    ///     whole and cuts larger ones into strips (``Plan/strips``).
    ///   - autorotate: run the pipeline on the image set upright by its EXIF
    ///     orientation (its steps come first in the job's `ops`).
    ///   - output: the result's format; nil keeps the source's.
    ///   - quality: JPEG quality 1...100 of the result; nil leaves it to the workers (90).
    ///   - pngLevel: deflate level 0...9 of a PNG result; nil leaves the default (``PNGBands/defaultLevel``).
    ///   - metadata: what the result keeps of the source's metadata.
    ///   - toSRGB: convert the pixels to sRGB through the source's profile (`colorspace=srgb`).
    public init(bytes: [UInt8], ops: String, tiling requested: Tiling? = nil, limits: JobLimits = JobLimits(),
                autorotate: Bool = true, output: ImageFormat? = nil, quality: Int? = nil, pngLevel: Int? = nil,
                metadata: Metadata.Policy = .profile, toSRGB: Bool = false,
                id: String = TileStore.newJobID(), extra: [String: String] = [:]) throws(Refusal) {
        let started = Date()
        var pipeline: Pipeline
        do { pipeline = try Pipeline(parsing: ops) } catch {
            throw Refusal(.badPipeline, error.message, cause: error)
        }
        let orientation = Orientation.of(bytes)
        if autorotate { pipeline = orientation.upright(pipeline) }
        let info: ImageInfo, shrink: Int
        do {
            let full = try Codec.probe(bytes)
            try DecodeLimits(maxPixels: limits.maxPixels).check(full)
            try Codec.checkComplete(bytes, format: full.format)
            // The pipeline reads the image as loaded: shrunk in the DCT domain when a thumbnail allows it.
            shrink = ShrinkOnLoad.factor(pipeline, source: full)
            info = shrink == 1 ? full : try Codec.probe(bytes, shrink: shrink)
        } catch {
            throw Refusal(.badImage, error.message, cause: error)
        }
        let shape = Shape(width: info.width, height: info.height, channels: info.channels)
        let plan: Plan
        do { plan = try Plan(pipeline, input: shape, maxPixels: limits.maxPixels) } catch {
            throw Refusal(.badPipeline, error.message, cause: error)
        }
        let result = output ?? info.format
        if result == .webp, max(plan.output.width, plan.output.height) > ImageFormat.webpMaxSide {
            throw Refusal(.badOption,
                "the result would be \(plan.output.width)x\(plan.output.height); WebP images are at most \(ImageFormat.webpMaxSide) pixels a side")
        }
        let largest = ([shape] + plan.stages.map(\.output)).max { $0.pixelCount < $1.pixelCount }!
        let side = plan.stages.map { max($0.output.width, $0.output.height) }.max()!
        let tiling = plan.boundingHalo(requested ?? (largest.pixelCount <= limits.wholeMaxPixels ? .squares(max(side, 16))
                                                     : Self.strips(plan, result: result)))
        let estimate = Cost.estimate(plan, tiling: tiling, decodeNanoseconds: info.format.decodeNanoseconds,
                                     encodeNanoseconds: result.encodeNanoseconds)
        if estimate.seconds > limits.maxCost {
            throw Refusal(.tooCostly, String(
                format: "the job would take about %.0f seconds of one core (%@ alone about %.0f on %dx%d), over the limit of %.0f",
                estimate.seconds, estimate.costliest, estimate.costliestSeconds, largest.width, largest.height, limits.maxCost))
        }
        let whole = plan.stages.allSatisfy { tiling.grid(width: $0.output.width, height: $0.output.height).count == 1 }
        self.id = id
        tiles = plan.stages[0].tiles(tiling)
        var fields: [String: String] = [
            "ops": pipeline.description, "format": result.rawValue, "source_format": info.format.rawValue,
            "tile_size": tiling.description,
            "width": String(info.width), "height": String(info.height), "channels": String(info.channels),
            "output_width": String(plan.output.width), "output_height": String(plan.output.height),
            "output_channels": String(plan.output.channels), "stages": String(plan.stages.count),
            "source_bytes": String(bytes.count), "whole": whole ? "1" : "0",
            "max_pixels": String(limits.maxPixels), "cost_s": String(format: "%.2f", estimate.seconds),
            "orientation": String(orientation.rawValue), "autorotate": autorotate ? "1" : "0",
            "metadata": metadata.rawValue,
        ]
        if toSRGB { fields["colorspace"] = "srgb" }
        if shrink > 1 { fields["shrink_on_load"] = String(shrink) }
        if let quality { fields["quality"] = String(quality) }
        if let pngLevel { fields["png_level"] = String(pngLevel) }
        self.fields = fields.merging(extra) { $1 }
        source = bytes
        sameUploadDigest = ContentHash.hex(bytes) + ContentHash.hex(Array("\(pipeline)\n\(result.rawValue)\n\(quality ?? 0)\n\(pngLevel ?? -1)\n\(metadata)\n\(toSRGB)".utf8))
        format = info.format
        self.info = info
        cost = estimate.seconds
        preparationSeconds = Date().timeIntervalSince(started)
    }

    /// The plan's automatic strips; for a PNG result, whole PNG segments of
    /// it, so that each strip is compressed by the rank that makes it.
    static func strips(_ plan: Plan, result: ImageFormat) -> Tiling {
        guard result == .png, let rows = plan.strips.stripRows else { return plan.strips }
        let step = PNGBands.segmentRows(width: plan.output.width, channels: plan.output.channels)
        return .strips((rows + step - 1) / step * step)
    }

    /// A tile size as users give it: `N` for N×N squares or `strips:N` for
    /// full-width strips of N rows, N in 16...4096; nil when it is neither.
    public static func tiling(_ text: String) -> Tiling? {
        guard let tiling = Tiling(text) else { return nil }
        switch tiling {
        case let .squares(n), let .strips(n): return (16...4096).contains(n) ? tiling : nil
        }
    }

    public static let tilingHelp = "tile must be 16...4096 (squares of that side) or strips:16...4096 (full-width strips of that many rows)"

    /// Stores the original and the tile descriptors and publishes the job
    /// (atomically, see `submit.lua`).
    /// - Parameters:
    ///   - staged: the original is in Redis already (``TileStore/stageSource(id:_:)``).
    ///   - keepSource: Redis keeps the original after the job ends, until
    ///     retention deletes the job (stateless servers read it from there).
    public func submit(to store: TileStore, staged: Bool = false, keepSource: Bool = false) throws(RedisError) {
        var fields = self.fields
        fields["t_prepare_ms"] = String(Int(preparationSeconds * 1000))
        if keepSource { fields["keep_source"] = "1" }
        try store.submit(id: id, fields: fields, tiles: tiles, source: staged ? nil : source)
    }
}
