import Foundation
import ImageCodecs
import ImageCore
import TileStore

/// An image checked, decoded and cut into the tiles of its first stage,
/// ready to be submitted to Redis. The CLI and the HTTP server both submit
/// jobs this way.
public struct JobSubmission: Sendable {
    public let id: String
    public let fields: [String: String]
    public let tiles: [TileData]
    public let source: [UInt8]
    public let format: ImageFormat
    /// Seconds spent decoding and cutting.
    public let preparationSeconds: Double

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
    ///   - maxPixels: limit checked from the header and on every intermediate size.
    public init(bytes: [UInt8], ops: String, tileSize: Int, maxPixels: Int = 100_000_000,
                id: String = TileStore.newJobID(), extra: [String: String] = [:]) throws(Refusal) {
        let started = Date()
        let pipeline: Pipeline
        do { pipeline = try Pipeline(parsing: ops) } catch {
            throw Refusal(code: .badPipeline, codec: nil, description: error.description)
        }
        let decoded: (image: Image, format: ImageFormat)
        do { decoded = try Codec.decode(bytes, limits: DecodeLimits(maxPixels: maxPixels)) } catch {
            throw Refusal(code: .badImage, codec: error, description: error.message)
        }
        let image = decoded.image
        let plan: Plan
        do { plan = try Plan(pipeline, input: image.shape, maxPixels: maxPixels) } catch {
            throw Refusal(code: .badPipeline, codec: nil, description: error.description)
        }
        self.id = id
        tiles = plan.stages[0].tileData(from: image, tileSize: tileSize)
        fields = [
            "ops": pipeline.description, "format": decoded.format.rawValue, "tile_size": String(tileSize),
            "width": String(image.width), "height": String(image.height), "channels": String(image.channels),
            "output_width": String(plan.output.width), "output_height": String(plan.output.height),
            "output_channels": String(plan.output.channels), "stages": String(plan.stages.count),
            "source_bytes": String(bytes.count),
        ].merging(extra) { $1 }
        source = bytes
        format = decoded.format
        preparationSeconds = Date().timeIntervalSince(started)
    }

    /// Stores the tiles and publishes the job (atomically, see `submit.lua`).
    public func submit(to store: TileStore) throws(RedisError) {
        var fields = self.fields
        fields["t_prepare_ms"] = String(Int(preparationSeconds * 1000))
        try store.submit(id: id, fields: fields, tiles: tiles, source: source)
    }
}
