import Foundation
import ImageCodecs
import ImageCore
import TileStore

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
    /// Seconds spent checking and laying out.
    public let preparationSeconds: Double

    /// Images up to this many pixels (input and every stage) run whole on one
    /// rank unless a tile size is given: distributing them costs more than it gains.
    public static let defaultWholeMaxPixels = 4_000_000
    /// Tile size of images too large to run whole.
    public static let defaultTileSize = 256

    /// Why a submission was refused: the pipeline or the image.
    public struct Refusal: Error, CustomStringConvertible, Sendable {
        public enum Code: String, Sendable { case badPipeline = "bad_pipeline", badImage = "bad_image" }
        public let code: Code
        /// The codec's reason when the image is at fault.
        public let codec: CodecError?
        public let description: String
    }

    /// - Parameters:
    ///   - bytes: the encoded image, as uploaded.
    ///   - ops: pipeline text.
    ///   - tileSize: tile size; nil runs images up to `wholeMaxPixels` whole and
    ///     cuts larger ones into ``defaultTileSize`` tiles.
    ///   - maxPixels: limit checked from the header and on every intermediate size.
    public init(bytes: [UInt8], ops: String, tileSize: Int? = nil, maxPixels: Int = 100_000_000,
                wholeMaxPixels: Int = defaultWholeMaxPixels, id: String = TileStore.newJobID(),
                extra: [String: String] = [:]) throws(Refusal) {
        let started = Date()
        let pipeline: Pipeline
        do { pipeline = try Pipeline(parsing: ops) } catch {
            throw Refusal(code: .badPipeline, codec: nil, description: error.description)
        }
        let info: ImageInfo
        do {
            info = try Codec.probe(bytes)
            try DecodeLimits(maxPixels: maxPixels).check(info)
            try Codec.checkComplete(bytes, format: info.format)
        } catch {
            throw Refusal(code: .badImage, codec: error, description: error.message)
        }
        let shape = Shape(width: info.width, height: info.height, channels: info.channels)
        let plan: Plan
        do { plan = try Plan(pipeline, input: shape, maxPixels: maxPixels) } catch {
            throw Refusal(code: .badPipeline, codec: nil, description: error.description)
        }
        let largest = ([shape] + plan.stages.map(\.output)).max { $0.pixelCount < $1.pixelCount }!
        let side = plan.stages.map { max($0.output.width, $0.output.height) }.max()!
        let tile = tileSize ?? (largest.pixelCount <= wholeMaxPixels ? max(side, 16) : Self.defaultTileSize)
        self.id = id
        tiles = plan.stages[0].tiles(tileSize: tile)
        fields = [
            "ops": pipeline.description, "format": info.format.rawValue, "tile_size": String(tile),
            "width": String(info.width), "height": String(info.height), "channels": String(info.channels),
            "output_width": String(plan.output.width), "output_height": String(plan.output.height),
            "output_channels": String(plan.output.channels), "stages": String(plan.stages.count),
            "source_bytes": String(bytes.count), "whole": tile >= side ? "1" : "0",
        ].merging(extra) { $1 }
        source = bytes
        format = info.format
        preparationSeconds = Date().timeIntervalSince(started)
    }

    /// Stores the original and the tile descriptors and publishes the job
    /// (atomically, see `submit.lua`).
    public func submit(to store: TileStore) throws(RedisError) {
        var fields = self.fields
        fields["t_prepare_ms"] = String(Int(preparationSeconds * 1000))
        try store.submit(id: id, fields: fields, tiles: tiles, source: source)
    }
}
