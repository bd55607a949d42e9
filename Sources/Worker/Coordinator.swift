import Foundation
import ImageCodecs
import ImageCore
import JobEvents
import Logging
import TileStore

/// Rank 0: takes jobs from the queue, deals their tiles, broadcasts each
/// stage to the world, gathers and stitches the tiles, runs the global steps
/// (canny's hysteresis; clahe's histograms are summed with MPI_Allreduce),
/// cuts the next stage, and encodes and stores the result.
struct Coordinator {
    let runner: StageRunner
    let cluster: ClusterLink
    let heartbeat: Heartbeat
    /// Signalled by job.created events; rank 0 also looks at the queue every poll interval.
    let wake: DispatchSemaphore
    let events: EventPublisher?
    var config: WorkerConfiguration { runner.config }
    var store: TileStore { runner.store }
    var logger: Logger { runner.logger }

    func run() throws {
        var idleSince = Date()
        while true {
            if let entry = try retrying({ try store.nextJob(consumer: config.consumer, minIdle: config.reclaimAfter) }) {
                heartbeat.setJob(entry.jobID, entry: entry.entry)
                try handle(entry)
                heartbeat.setJob("", entry: nil)
                idleSince = Date()
            } else {
                if let limit = config.exitWhenIdle, Date().timeIntervalSince(idleSince) >= limit {
                    _ = try cluster.broadcast(Command.stop.bytes)
                    return
                }
                _ = wake.wait(timeout: .now() + config.pollInterval)
            }
        }
    }

    /// Runs one job to its end (done or failed) and acknowledges its queue entry.
    func handle(_ entry: TileStore.QueueEntry) throws {
        let id = entry.jobID
        guard let job = try retrying({ try store.job(id) }), job.status == .queued || job.status == .running else {
            try retrying { try store.acknowledge(entry) }
            // Finished before an interruption: the event may not have gone out.
            announce(id)
            return
        }
        let world = cluster.size
        guard let shape = job.inputShape, let plan = try? Plan(try Pipeline(parsing: job.ops), input: shape) else {
            try retrying { try store.fail(id: id, reason: "the job's pipeline or sizes cannot be read", world: world) }
            try retrying { try store.acknowledge(entry) }
            announce(id)
            return
        }
        let interrupted = entry.reclaimed || job.status == .running
        let reason = interrupted ? (config.lastExit ?? "the workers running it stopped before it was done") : "start"
        logger.info("\(interrupted ? "resuming" : "starting") job", metadata: ["job": "\(id)", "ops": "\(job.ops)"])
        switch try deal(id, plan: plan, world: world, reason: reason) {
        case let .failed(why):
            logger.warning("job failed", metadata: ["job": "\(id)", "reason": "\(why)"])
            // deal.lua recorded the reason; this deletes the job's tiles and working keys.
            try retrying { try store.fail(id: id, reason: why, world: world) }
            try retrying { try store.acknowledge(entry) }
            announce(id)
            return
        case .running:
            break
        }
        try runStages(id, plan: plan, world: world)
        try retrying { try store.acknowledge(entry) }
        announce(id)
    }

    /// Publishes job.done with the job's final status (and why it failed).
    func announce(_ id: String) {
        guard let events, let job = try? store.job(id), let status = job.status, status == .done || status == .failed else { return }
        events.publish(JobEvent(id: id, status: status.rawValue, error: job.error))
    }

    /// Deals the job's current stage; rebuilds stage 0 from the original when a
    /// crash cut the writing of a later stage's tiles short.
    func deal(_ id: String, plan: Plan, world: Int, reason: String) throws -> TileStore.DealResult {
        do {
            return try retrying { try store.deal(id: id, world: world, maxAttempts: config.maxAttempts, reason: reason) }
        } catch let error as RedisError where error.message.contains("TILES") {
            logger.warning("tiles of the current stage are incomplete; starting again from the original", metadata: ["job": "\(id)"])
            guard let job = try store.job(id), let bytes = try store.source(id),
                  let image = try? Codec.decode(bytes).image else {
                try store.fail(id: id, reason: "its tiles were lost and the original is gone", world: world)
                return .failed(reason: "its tiles were lost and the original is gone")
            }
            try store.advance(id: id, stage: 0, tiles: plan.stages[0].tileData(from: image, tileSize: max(16, job.tileSize)),
                              world: world)
            return try retrying { try store.deal(id: id, world: world, maxAttempts: config.maxAttempts, reason: reason) }
        }
    }

    func runStages(_ id: String, plan: Plan, world: Int) throws {
        guard var job = try retrying({ try store.job(id) }) else { return }
        let started = Date()
        var timings: [String: Double] = ["process": 0, "redis": 0, "gather": 0, "stitch": 0, "encode": 0]
        var stageIndex = job.stage
        while true {
            let stage = plan.stages[stageIndex]
            let total = TileGrid(width: stage.output.width, height: stage.output.height, tileSize: job.tileSize).count
            var collected: [Int: Region] = [:]
            var sums: [UInt32]?
            // Rounds: the first runs the stage; more only if tiles were lost in transit.
            for round in 0..<5 {
                _ = try cluster.broadcast(Command(kind: .stage, job: id, stage: stageIndex).bytes)
                let result = try StageRound(runner: runner, cluster: cluster).run(jobID: id, stageIndex: stageIndex) {
                    stage, gathered in
                    guard round == 0, let settings = stage.histograms else { return nil }
                    // Tiles finished in an earlier attempt are in Redis, not in any rank's share.
                    let fresh = Set(gathered.map(\.index))
                    var extra = [UInt32](repeating: 0, count: settings.histogramCount)
                    for (index, pixels) in try store.outputs(id, of: (0..<total).filter { !fresh.contains($0) }) {
                        guard let region = region(index: index, pixels: pixels, stage: stage, tileSize: job.tileSize) else { continue }
                        let part = settings.histograms(of: region, imageShape: stage.output)
                        for i in part.indices { extra[i] &+= part[i] }
                    }
                    return extra
                }
                for tile in result.gathered { collected[tile.index] = tile.region }
                if let h = result.histograms { sums = sums.map { zip($0, h).map { $0 &+ $1 } } ?? h }
                timings["process"]! += result.processSeconds
                timings["redis"]! += result.redisSeconds
                timings["gather"]! += result.gatherSeconds
                // Tiles done in earlier attempts come from Redis.
                if collected.count < total {
                    let missing = (0..<total).filter { collected[$0] == nil }
                    for (index, pixels) in try retrying({ try store.outputs(id, of: missing) }) {
                        collected[index] = region(index: index, pixels: pixels, stage: stage, tileSize: job.tileSize)
                    }
                }
                if collected.count >= total { break }
                logger.warning("\(total - collected.count) tiles lost in transit; dealing them again", metadata: ["job": "\(id)"])
                _ = try retrying {
                    try store.deal(id: id, world: world, maxAttempts: config.maxAttempts, reason: "tiles lost", counted: false)
                }
            }
            let stitchStart = Date()
            var image = Image(width: stage.output.width, height: stage.output.height, channels: stage.output.channels)
            for region in collected.values { image.paste(region.image, atX: region.x, y: region.y) }
            image = stage.finishing(image)
            timings["stitch"]! += Date().timeIntervalSince(stitchStart)

            if stageIndex + 1 < plan.stages.count {
                let next = plan.stages[stageIndex + 1]
                if let sums { try retrying { try store.setStats(id, sums) } }
                try retrying {
                    try store.advance(id: id, stage: stageIndex + 1, tiles: next.tileData(from: image, tileSize: job.tileSize),
                                      world: world)
                }
                _ = try retrying {
                    try store.deal(id: id, world: world, maxAttempts: config.maxAttempts, reason: "next stage", counted: false)
                }
                stageIndex += 1
                job = try retrying({ try store.job(id) }) ?? job
                continue
            }
            let encodeStart = Date()
            let format = ImageFormat(rawValue: job.fields["format"] ?? "png") ?? .png
            let bytes: [UInt8]
            do { bytes = try Codec.encode(image, as: format, quality: config.jpegQuality) } catch {
                try retrying { try store.fail(id: id, reason: "encoding the result failed: \(error)", world: world) }
                return
            }
            timings["encode"] = Date().timeIntervalSince(encodeStart)
            var fields = ["output_bytes": String(bytes.count), "world": String(world)]
            for (name, seconds) in timings { fields["t_\(name)_ms"] = String(Int(seconds * 1000)) }
            fields["t_total_ms"] = String(Int(Date().timeIntervalSince(started) * 1000))
            try retrying { try store.finish(id: id, result: bytes, world: world, fields: fields) }
            logger.info("job done", metadata: ["job": "\(id)", "ms": "\(fields["t_total_ms"]!)"])
            return
        }
    }

    /// A stored tile output as a region of the stage's output.
    func region(index: Int, pixels: [UInt8], stage: Stage, tileSize: Int) -> Region? {
        let grid = TileGrid(width: stage.output.width, height: stage.output.height, tileSize: tileSize)
        guard index < grid.count else { return nil }
        let core = grid.rect(index)
        guard pixels.count == core.area * stage.output.channels else { return nil }
        return Region(image: Image(width: core.width, height: core.height, channels: stage.output.channels, pixels: pixels),
                      x: core.x, y: core.y)
    }
}
