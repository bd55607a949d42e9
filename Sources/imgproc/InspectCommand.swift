import ArgumentParser
import Foundation
import TileStore

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a job's state in Redis: status, progress, tiles per rank, attempts, errors."
    )

    @Argument(help: "Job id, as enqueue printed it.")
    var id: String

    @OptionGroup var redis: RedisOptions

    func run() throws {
        let store = try redis.store()
        do {
            guard let job = try store.job(id) else { throw CLIError("no job \(id) in Redis") }
            print(try JobReport(job: job, store: store).text)
        } catch let error as RedisError { throw CLIError("\(error)") }
    }
}

/// A job described in human terms.
struct JobReport {
    let text: String

    init(job: JobRecord, store: TileStore) throws {
        var lines: [(String, String)] = []
        let status = job.status?.rawValue ?? "unknown"
        lines.append(("status", job.attempts > 1 ? "\(status) (attempt \(job.attempts))" : status))
        lines.append(("pipeline", job.ops))
        if let input = job.inputShape {
            lines.append(("image", "\(input) \(job.format ?? "") -> \(job.outputShape.map { "\($0)" } ?? "?")"))
        }
        if job.stages > 1 { lines.append(("stage", "\(job.stage + 1) of \(job.stages)")) }
        let total = job.tilesTotal, done = job.tilesDone
        let percent = total > 0 ? done * 100 / total : 0
        let tiles: String
        switch job.tiling {
        case let .strips(rows)?: tiles = "strips of \(rows) rows"
        case let .squares(side)?: tiles = job.runsWhole ? "run whole" : "tile size \(side)"
        case nil: tiles = "tiling unknown"
        }
        lines.append(("progress", "\(done)/\(total) tiles (\(percent)%), \(tiles)"))
        if job.world > 0 && job.status == .running {
            let queues = try store.queueLengths(job.id, world: job.world)
            lines.append(("queued", queues.enumerated().map { "rank \($0.offset): \($0.element)" }.joined(separator: ", ")))
            lines.append(("claimed", Self.perRank(try store.tileRanks(job.id, completed: false))))
        }
        let completed = try store.tileRanks(job.id, completed: true)
        if !completed.isEmpty { lines.append(("done by", Self.perRank(completed))) }
        if let last = job.lastInterruption { lines.append(("restarted", last)) }
        if let error = job.error { lines.append(("error", error)) }
        for (name, ms) in [("created", job.createdAt), ("started", job.startedAt), ("finished", job.finishedAt)] {
            if let ms { lines.append((name, Self.time(ms))) }
        }
        let width = lines.map(\.0.count).max() ?? 0
        text = (["job \(job.id)"] + lines.map { $0.0.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.1 })
            .joined(separator: "\n")
    }

    static func perRank(_ map: [Int: Int]) -> String {
        var counts: [Int: Int] = [:]
        for rank in map.values { counts[rank, default: 0] += 1 }
        if counts.isEmpty { return "none" }
        return counts.keys.sorted().map { "rank \($0): \(counts[$0]!) tiles" }.joined(separator: ", ")
    }

    static func time(_ ms: Int) -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
