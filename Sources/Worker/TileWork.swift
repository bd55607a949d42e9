import Foundation
import ImageCodecs
import ImageCore
import TileStore

/// One rank's share of a stage: take the tiles dealt to it from its own
/// queue, steal from the others' when it is empty, and process each from
/// its own copy of the stage's input; until nothing is left anywhere.
///
/// Rows are decoded as the tiles need them, top to bottom, and freed once no
/// tile left in its queue needs them: a rank holds a row of tiles and their
/// halos at a time, not its whole band, so its memory follows what it makes.
struct TileWork {
    let rank: RankContext
    let jobID: String
    let stage: Stage
    let tiling: Tiling
    let tables: ClaheTables?
    /// Small jobs to run between tile batches.
    var lane: Lane?
    /// When the job must stop (--job-timeout).
    var deadline: Date?
    var timeout = 0.0

    struct Outcome {
        /// Tiles processed in this round.
        var processed: [Int] = []
        /// Why this rank could not go on (the image could not be decoded).
        var failure: String?
        var inputSeconds = 0.0
        var processSeconds = 0.0
        var redisSeconds = 0.0
        /// Small jobs this rank ran from the lane.
        var lane: [WholeRound.Outcome] = []
    }

    func run(input: StageInput, kept: KeptTiles) throws -> Outcome {
        var outcome = Outcome()
        let config = rank.config
        let grid = stage.tiles(tiling)
        var started = Date()
        let dealt = try retrying { try rank.store.dealtTiles(jobID, rank: rank.index) }.filter { $0 < grid.count }
        outcome.redisSeconds += Date().timeIntervalSince(started)
        // For each position in this rank's queue, the rows the tiles from there on need.
        var needed = [Range<Int>](repeating: 0..<0, count: dealt.count + 1)
        for p in stride(from: dealt.count - 1, through: 0, by: -1) {
            needed[p] = Self.hull(grid[dealt[p]].halo.rows, needed[p + 1])
        }
        let position = Dictionary(dealt.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        // The decoder stands a halo below this rank's last row, and a tile stolen next to
        // its band reaches a halo above that row: keep both halos' rows for it.
        let margin = (grid.map { $0.core.y - $0.halo.y }.max() ?? 0) + (grid.map { $0.halo.maxY - $0.core.maxY }.max() ?? 0)
        // Tiles per claim: few round trips, yet small enough shares at the end for stealing.
        let batch = config.claimBatch ?? min(16, max(1, grid.count / (8 * rank.world)))

        while outcome.failure == nil {
            if let deadline, Date() > deadline {
                outcome.failure = "the job ran longer than \(Int(timeout)) s (--job-timeout)"
                break
            }
            // One small job waiting beside this one runs before the next tiles.
            if let small = try lane?.runOne() { outcome.lane.append(small) }
            started = Date()
            var tiles = try retrying { try rank.store.claim(id: jobID, rank: rank.index, count: batch) }
            if tiles.isEmpty && config.stealing {
                tiles = try retrying { try rank.store.steal(id: jobID, rank: rank.index, world: rank.world,
                                                            count: batch) }.tiles
            }
            outcome.redisSeconds += Date().timeIntervalSince(started)
            if tiles.isEmpty { break }
            var done: [(index: Int, pixels: [UInt8])] = []
            for (k, tile) in tiles.enumerated() {
                if config.tileDelay > 0 && (config.slowRank == nil || rank.index == config.slowRank) {
                    Thread.sleep(forTimeInterval: config.tileDelay)
                }
                started = Date()
                let source: Region
                do { source = try input.region(tile.halo) } catch {
                    outcome.failure = "\(error)"
                    break
                }
                let cut = Date()
                outcome.inputSeconds += cut.timeIntervalSince(started)
                let region = stage.process(source, output: tile.core, tables: tables)
                outcome.processSeconds += Date().timeIntervalSince(cut)
                done.append((tile.index, config.durableTiles ? region.image.pixels : []))
                do { try kept.keep(tile.index, region) } catch {
                    outcome.failure = "\(error)"
                    break
                }
                outcome.processed.append(tile.index)
                // Rows the rest of this rank's queue needs, or, for a stolen tile, the rest of the batch.
                if let p = position[tile.index] {
                    input.keep(rows: needed[p + 1], margin: margin)
                } else {
                    input.keep(rows: tiles[(k + 1)...].reduce(0..<0) { Self.hull($0, $1.halo.rows) }, margin: margin)
                }
            }
            started = Date()
            // Who made each tile (the tile map) and progress; outputs too with --durable-tiles.
            if !done.isEmpty { _ = try retrying { try rank.store.complete(id: jobID, rank: rank.index, outputs: done) } }
            outcome.redisSeconds += Date().timeIntervalSince(started)
        }
        if let lane { outcome.lane += try lane.drain() }
        return outcome
    }

    /// The smallest range holding both (an empty one holds nothing).
    static func hull(_ a: Range<Int>, _ b: Range<Int>) -> Range<Int> {
        a.isEmpty ? b : b.isEmpty ? a : min(a.lowerBound, b.lowerBound)..<max(a.upperBound, b.upperBound)
    }
}
