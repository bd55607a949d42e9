import Foundation
import ImageCore
import Logging
import TileStore

/// One rank's share of a stage: claim tiles from its own queue, steal when
/// it is empty, process them, record them in Redis; until nothing is left.
struct StageRunner {
    let rank: Int
    let world: Int
    let config: WorkerConfiguration
    let store: TileStore
    let logger: Logger

    struct Outcome {
        var tiles: [(index: Int, region: Region)] = []
        var processSeconds = 0.0
        var redisSeconds = 0.0
    }

    func run(job: JobRecord, stage: Stage, tables: ClaheTables?) throws -> Outcome {
        var outcome = Outcome()
        if let poison = config.crashOnOps, job.ops.contains(poison), rank == world - 1 {
            logger.warning("test hook: crashing on purpose", metadata: ["job": "\(job.id)"])
            kill(getpid(), SIGKILL)
        }
        while true {
            var started = Date()
            // If Redis goes away mid-claim, the claimed tiles may be lost with the
            // reply; rank 0 then finds them missing and deals them again.
            var tiles = try retrying { try store.claim(id: job.id, rank: rank, count: config.claimBatch) }
            if tiles.isEmpty && config.stealing {
                tiles = try retrying { try store.steal(id: job.id, rank: rank, world: world, count: config.claimBatch) }.tiles
            }
            outcome.redisSeconds += Date().timeIntervalSince(started)
            if tiles.isEmpty { break }
            started = Date()
            var done: [(index: Int, pixels: [UInt8])] = []
            for tile in tiles {
                if config.tileDelay > 0 && (config.slowRank == nil || rank == config.slowRank) {
                    Thread.sleep(forTimeInterval: config.tileDelay)
                }
                let source = Region(image: Image(width: tile.halo.width, height: tile.halo.height,
                                                 channels: stage.input.channels, pixels: tile.pixels),
                                    x: tile.halo.x, y: tile.halo.y)
                let region = stage.process(source, output: tile.core, tables: tables)
                outcome.tiles.append((tile.index, region))
                done.append((tile.index, config.durableTiles ? region.image.pixels : []))
            }
            outcome.processSeconds += Date().timeIntervalSince(started)
            started = Date()
            // Recorded in Redis too, so a restart after a crash does not redo them.
            _ = try retrying { try store.complete(id: job.id, rank: rank, outputs: done) }
            outcome.redisSeconds += Date().timeIntervalSince(started)
        }
        return outcome
    }
}
