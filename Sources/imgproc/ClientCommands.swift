import ArgumentParser
import Foundation
import ImageCodecs
import TileStore

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Upload images to an imgproc server; prints one job id per image.",
        discussion: "Example: imgproc submit a.jpg b.png --ops grayscale,canny --wait --out results/"
    )

    @Argument(help: "Images (PNG, JPEG, WebP or AVIF).")
    var files: [String]

    @Option(help: "Pipeline, e.g. 'grayscale,blur:3'. See 'imgproc ops'.")
    var ops: String

    @Flag(help: "Wait for the jobs to finish, with a progress bar.")
    var wait = false

    @OptionGroup var result: ResultOptions

    @Option(help: "With --wait, save the results in this folder (as ID.EXT).")
    var out: String?

    @OptionGroup var options: ServerOptions

    func run() throws {
        let client = try options.client()
        let uploads = try files.map { (name: URL(fileURLWithPath: $0).lastPathComponent, data: Data(try readFile($0))) }
        let (body, type) = ServerClient.multipart(fields: [("ops", ops)] + result.fields, files: uploads)
        let reply = try client.request("api/jobs", method: "POST", body: body, contentType: type)
        guard reply.status == 202, let jobs = reply.json?["jobs"] as? [[String: Any]] else {
            throw CLIError("the server refused the upload: \(reply.problem)")
        }
        let ids = jobs.compactMap { $0["id"] as? String }
        for (file, id) in zip(files, ids) { print(wait ? "\(id)  \(file)" : id) }
        guard wait else { return }
        if let out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        var failed = 0
        for id in ids {
            let job = try Progress.follow(id, client: client)
            if job["status"] as? String != "done" {
                failed += 1
                FileHandle.standardError.write(Data("job \(id) failed: \(job["error"] as? String ?? "no reason")\n".utf8))
                continue
            }
            if let out {
                let ext = (job["format"] as? String).flatMap(ImageFormat.init(rawValue:))?.fileExtension ?? "png"
                try FetchCommand.fetch(id, to: URL(fileURLWithPath: out).appendingPathComponent("\(id).\(ext)").path, client: client)
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a job's status, from the server.")

    @Argument(help: "Job id.")
    var id: String

    @OptionGroup var options: ServerOptions

    func run() throws {
        let reply = try options.client().request("api/jobs/\(id)")
        guard reply.status == 200, let job = reply.json else { throw CLIError(reply.problem) }
        let progress = job["progress"] as? [String: Int] ?? [:]
        print("job       \(id)")
        print("status    \(job["status"] as? String ?? "?")")
        print("pipeline  \(job["ops"] as? String ?? "")")
        print("progress  \(progress["done"] ?? 0)/\(progress["total"] ?? 0) tiles")
        if let error = job["error"] as? String { print("error     \(error)") }
        if let t = job["timings_ms"] as? [String: Int], let total = t["total"] { print("time      \(total) ms") }
    }
}

struct FetchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fetch", abstract: "Download a finished job's result from the server.")

    @Argument(help: "Job id.")
    var id: String

    @Argument(help: "Output file.")
    var output: String

    @OptionGroup var options: ServerOptions

    func run() throws { try Self.fetch(id, to: output, client: try options.client()) }

    static func fetch(_ id: String, to path: String, client: ServerClient) throws {
        let reply = try client.request("api/jobs/\(id)/result")
        guard reply.status == 200 else { throw CLIError(reply.problem) }
        try writeFile(path, [UInt8](reply.body))
    }
}

/// Follows a job until it ends, drawing a progress bar on stderr.
enum Progress {
    static func follow(_ id: String, client: ServerClient) throws -> [String: Any] {
        let terminal = isatty(STDERR_FILENO) != 0
        while true {
            let reply = try client.request("api/jobs/\(id)")
            guard reply.status == 200, let job = reply.json else { throw CLIError(reply.problem) }
            let status = job["status"] as? String ?? "?"
            let progress = job["progress"] as? [String: Int] ?? [:]
            let done = progress["done"] ?? 0, total = max(progress["total"] ?? 0, 1)
            let width = 30, filled = status == "done" ? width : width * done / total
            let line = "\(id.prefix(8)) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] "
                + "\(status) \(done)/\(total) tiles"
            if terminal { FileHandle.standardError.write(Data("\r\(line)".utf8)) }
            if JobStatus(rawValue: status)?.isFinal == true {
                FileHandle.standardError.write(Data((terminal ? "\n" : line + "\n").utf8))
                return job
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }
}
