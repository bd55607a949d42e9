import ArgumentParser
import Foundation
import ImageCodecs
import ImageCore
import Jobs
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

    @Option(help: "Tile size in pixels (16...4096); default: images up to 4 megapixels run whole on one rank, larger ones in 256-pixel tiles.")
    var tile: Int?

    @Option(help: "Refuse images larger than this many megapixels (checked from the header).")
    var maxMegapixels: Int = 100

    @OptionGroup var redis: RedisOptions

    func validate() throws {
        if let tile, !(16...4096).contains(tile) { throw ValidationError("--tile must be 16...4096, not \(tile)") }
    }

    func run() throws {
        let bytes = try readFile(input)
        let job: JobSubmission
        do { job = try JobSubmission(bytes: bytes, ops: ops, tileSize: tile, maxPixels: maxMegapixels * 1_000_000) } catch {
            throw CLIError(error.code == .badImage ? "\(input): \(error)" : "\(error)")
        }
        let store = try redis.store()
        do { try job.submit(to: store) } catch { throw CLIError("\(error)") }
        print(job.id)
    }
}
