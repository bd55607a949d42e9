import Foundation
import ImageCore
import TileStore

/// A job as the API shows it (`GET /api/jobs/ID`).
struct JobView: Codable, Sendable {
    struct Progress: Codable, Sendable { var done: Int; var total: Int }
    struct Size: Codable, Sendable { var width: Int; var height: Int; var channels: Int }
    /// A job's URLs: the one place they are spelt.
    struct Links: Codable, Sendable {
        var status: String, events: String, result: String, source: String, page: String

        init(_ id: String) {
            status = "/api/jobs/\(id)"
            (events, result, source) = (status + "/events", status + "/result", status + "/source")
            page = "/jobs/\(id)"
        }
    }
    /// Which rank processed each tile of the last stage run, row by row (-1: not yet).
    struct TileMap: Codable, Sendable { var columns: Int; var rows: Int; var ranks: [Int] }
    /// The source's EXIF orientation (1 upright ... 8), and whether its turn
    /// was applied (the turn's steps then lead `ops`).
    struct Orientation: Codable, Sendable { var exif: Int; var applied: Bool }

    var id: String
    var status: String
    var progress: Progress
    var ops: String
    var input: Size?
    var output: Size?
    var format: String?
    var orientation: Orientation?
    var stage: Int
    var stages: Int
    var attempts: Int
    var world: Int?
    var error: String?
    var created_at: String?
    var started_at: String?
    var finished_at: String?
    var timings_ms: [String: Int]
    var stored: Bool
    var links: Links
    var tiles: TileMap?

    init(_ job: JobRecord, tileRanks: [Int: Int], stored: Bool) {
        id = job.id
        status = job.status?.rawValue ?? "unknown"
        progress = Progress(done: job.tilesDone, total: job.tilesTotal)
        ops = job.ops
        input = job.inputShape.map { Size(width: $0.width, height: $0.height, channels: $0.channels) }
        output = job.outputShape.map { Size(width: $0.width, height: $0.height, channels: $0.channels) }
        format = job.format
        if let exif = job.orientation { orientation = Orientation(exif: exif, applied: exif != 1 && job.autorotates) }
        stage = job.stage
        stages = job.stages
        attempts = job.attempts
        world = job.world > 0 ? job.world : nil
        error = job.error
        created_at = job.createdAt.map(Self.iso8601)
        started_at = job.startedAt.map(Self.iso8601)
        finished_at = job.finishedAt.map(Self.iso8601)
        timings_ms = job.timings
        self.stored = stored
        links = Links(job.id)
        // The grid of the stage the ranks last worked on.
        if let shape = job.inputShape, let pipeline = try? Pipeline(parsing: job.ops),
           let plan = try? Plan(pipeline, input: shape), job.stage < plan.stages.count, let tiling = job.tiling {
            let out = plan.stages[job.stage].output
            let grid = tiling.grid(width: out.width, height: out.height)
            tiles = TileMap(columns: grid.columns, rows: grid.rows, ranks: (0..<grid.count).map { tileRanks[$0] ?? -1 })
        }
    }

    /// Milliseconds since the epoch as ISO 8601 UTC (`2026-11-28T16:09:46Z`);
    /// by hand, since a Foundation formatter costs more than the rest of a view.
    static func iso8601(_ milliseconds: Int) -> String {
        var seconds = time_t(milliseconds / 1000)
        var t = tm()
        gmtime_r(&seconds, &t)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(t.tm_year + 1900)-\(two(t.tm_mon + 1))-\(two(t.tm_mday))T\(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec))Z"
    }

    var json: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(self)) ?? Data())
    }
}
