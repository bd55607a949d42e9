import ArgumentParser
import Foundation
import ImageCodecs
import TileStore

struct ResultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "result",
        abstract: "Write a finished job's result to a file (fails, saying why, while the job is not done)."
    )

    @Argument(help: "Job id.")
    var id: String

    @Argument(help: "Output file; its extension must match the result's format (that of the original).")
    var output: String

    @OptionGroup var redis: RedisOptions

    func run() throws {
        let store = try redis.store()
        do {
            guard let job = try store.job(id) else { throw CLIError("no job \(id) in Redis") }
            switch job.status {
            case .done?:
                guard let bytes = try store.result(id) else {
                    throw CLIError("job \(id) is done but its result is no longer in Redis (the server has stored it)")
                }
                let format = try? Codec.probe(bytes).format
                let wanted = ImageFormat(fileExtension: URL(fileURLWithPath: output).pathExtension)
                if let format, let wanted, wanted != format {
                    throw CLIError("the result is \(format.name); name the output .\(format.fileExtension)")
                }
                try writeFile(output, bytes)
            case .failed?:
                throw CLIError("job \(id) failed: \(job.error ?? "no reason recorded")")
            default:
                throw CLIError("job \(id) is \(job.status?.rawValue ?? "unknown") (\(job.tilesDone)/\(job.tilesTotal) tiles); try again when it is done")
            }
        } catch let error as RedisError { throw CLIError("\(error)") }
    }
}
