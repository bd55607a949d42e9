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

    @Argument(help: "Input image (PNG, JPEG, WebP or AVIF).")
    var input: String

    @Option(help: "Pipeline, e.g. 'grayscale,blur:3'. See 'imgproc ops'.")
    var ops: String

    @Option(help: "N for NxN tiles or strips:N for full-width strips of N rows (16...4096); default: images up to 4 megapixels run whole on one rank, larger ones in strips.")
    var tile: String?

    @Option(help: "Refuse images larger than this many megapixels (input and every stage, from the header).")
    var maxMegapixels: Int = 100

    @Option(help: "Refuse jobs whose estimated work is over this many seconds of one core.")
    var maxJobCost: Double = JobLimits().maxCost

    @OptionGroup var result: ResultOptions

    @OptionGroup var redis: RedisOptions

    func validate() throws {
        if let tile, JobSubmission.tiling(tile) == nil { throw ValidationError("--\(JobSubmission.tilingHelp), not '\(tile)'") }
    }

    func run() throws {
        let bytes = try readFile(input)
        let job: JobSubmission
        var limits = JobLimits()
        limits.maxPixels = maxMegapixels * 1_000_000
        limits.maxCost = maxJobCost
        do { job = try JobSubmission(bytes: bytes, ops: ops, tiling: tile.flatMap(JobSubmission.tiling), limits: limits, autorotate: result.autorotate,
                                                  output: result.format.flatMap(ImageFormat.init(fileExtension:)), quality: result.quality,
                                                  pngLevel: result.pngLevel,
                                                  metadata: result.keepMetadata ? .all : .profile,
                                                  toSRGB: result.colorspace == "srgb") } catch {
            throw CLIError(error.code == .badImage ? "\(input): \(error)" : "\(error)")
        }
        let store = try redis.store()
        do { try job.submit(to: store) } catch { throw CLIError("\(error)") }
        print(job.id)
    }
}
