import ArgumentParser
import Foundation
import ImageCodecs
import ImageCore
import TileStore

struct EnqueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Cut an image into tiles and queue it in Redis for the workers; prints the job id.",
        discussion: """
            Example: imgproc enqueue photo.jpg --ops grayscale,blur:2 --tile 256
            Then: imgproc inspect ID, and imgproc result ID out.jpg when it is done.
            """
    )

    @Argument(help: "Input image (PNG or JPEG).")
    var input: String

    @Option(help: "Pipeline, e.g. 'grayscale,blur:3'. See 'imgproc ops'.")
    var ops: String

    @Option(help: "Tile size in pixels (16...4096).")
    var tile: Int = 256

    @Option(help: "Refuse images larger than this many megapixels (checked from the header).")
    var maxMegapixels: Int = 100

    @OptionGroup var redis: RedisOptions

    func validate() throws {
        if !(16...4096).contains(tile) { throw ValidationError("--tile must be 16...4096, not \(tile)") }
    }

    func run() throws {
        let bytes = try readFile(input)
        let job = try JobSubmission(bytes: bytes, ops: ops, tileSize: tile, maxPixels: maxMegapixels * 1_000_000,
                                    label: input)
        let store = try redis.store()
        do { try job.submit(to: store) } catch { throw CLIError("\(error)") }
        print(job.id)
    }
}

/// A decoded image cut into the tiles of its first stage, ready for Redis.
struct JobSubmission {
    let id = TileStore.newJobID()
    let fields: [String: String]
    let tiles: [TileData]
    let source: [UInt8]

    init(bytes: [UInt8], ops: String, tileSize: Int, maxPixels: Int, label: String) throws {
        let pipeline: Pipeline
        do { pipeline = try Pipeline(parsing: ops) } catch { throw CLIError("\(error)") }
        let decoded: (image: Image, format: ImageFormat)
        do { decoded = try Codec.decode(bytes, limits: DecodeLimits(maxPixels: maxPixels)) } catch {
            throw CLIError("\(label): \(error)")
        }
        let image = decoded.image
        let plan: Plan
        do { plan = try Plan(pipeline, input: image.shape, maxPixels: maxPixels) } catch { throw CLIError("\(error)") }
        let stage = plan.stages[0]
        tiles = stage.tiles(tileSize: tileSize).map {
            TileData(index: $0.index, core: $0.core, halo: $0.halo, pixels: image.cropped(to: $0.halo).pixels)
        }
        fields = [
            "ops": pipeline.description, "format": decoded.format.rawValue, "tile_size": String(tileSize),
            "width": String(image.width), "height": String(image.height), "channels": String(image.channels),
            "output_width": String(plan.output.width), "output_height": String(plan.output.height),
            "output_channels": String(plan.output.channels), "stages": String(plan.stages.count),
        ]
        source = bytes
    }

    func submit(to store: TileStore) throws {
        try store.submit(id: id, fields: fields, tiles: tiles, source: source)
    }
}
