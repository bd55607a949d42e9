import Cluster
import Foundation
import ImageCodecs
import ImageCore
import TileStore

/// A tiled job, run by every rank of the world in the same sequence of
/// collectives; rank 0 also keeps Redis up to date (dealing, stages, result).
///
/// Rank 0 broadcasts the original file; each rank decodes the rows its tiles
/// need. Per stage, every rank takes tiles (``TileWork``) and processes them
/// from its own rows; rank 0 checks with every rank that each tile was done,
/// dealing lost ones again; clahe's histograms are summed with
/// MPI_Allreduce. After clahe's histograms each rank makes the next stage's
/// input again from the stage's own input, where its tiles need it
/// (``RemadeInput``); after canny's hysteresis (and with durable tiles)
/// rank 0 gathers the tiles (MPI_Gatherv), runs the global step and
/// broadcasts the next stage's input. The last stage's JPEG or PNG bands
/// are encoded by the ranks and written into the result in Redis where they
/// belong (``PlacedBands``); a WebP or AVIF result is stitched and encoded at rank 0.
struct TiledJob {
    let rank: RankContext
    let header: JobHeader
    let startStage: Int
    /// Small jobs run beside this one; rank 0 also has the lane's feed, to settle them.
    let lane: Lane?
    let laneFeed: RoundFeed?

    /// The original file (stage 0), or the stage's raw input (resumed with
    /// --durable-tiles); a class, so that letting the original go once it is
    /// sent lets it go for every copy of the Root. Its metadata is read first.
    final class RootInput {
        var bytes: [UInt8]
        var metadata: Metadata?
        init(_ bytes: [UInt8]) { self.bytes = bytes }
    }

    /// What rank 0 brings.
    struct Root {
        let input: RootInput
        /// clahe sums for a resumed stage that starts with clahe's interpolation.
        var stats: [UInt32]?
        var started: Date
    }

    /// Seconds per phase on this rank; the job records each phase's slowest rank.
    struct Timings {
        var source = 0.0, input = 0.0, process = 0.0, redis = 0.0, gather = 0.0, encode = 0.0
        var all: [Double] { [source, input, process, redis, gather, encode] }
        static let names = ["source", "input", "process", "redis", "gather", "encode"]
        /// The most rows of the original this rank held decoded at once, and
        /// the rows its decoders went through.
        var rowsHeld = 0
        var rowsRead = 0
    }

    private var store: TileStore { rank.store }
    private var cluster: ClusterLink { rank.cluster }

    func run(root: Root?) throws {
        let plan = try header.plan()
        var t = Timings()
        let deadline = rank.config.jobTimeout > 0 ? Date().addingTimeInterval(rank.config.jobTimeout) : nil
        if rank.index == rank.world - 1 { rank.crashIfPoisoned(header) }
        rank.heartbeat.setJob(header.id)
        defer { rank.heartbeat.setJob("") }

        var clock = Date()
        let sentBefore = Cluster.bytesSent
        var input: StageInput?
        var failure: String?
        var tables: ClaheTables?
        if startStage == 0 {
            // Received where the decoders read it: each rank holds the original once.
            let source = SourceBytes(adopting: try cluster.broadcastBuffer(root?.input.bytes ?? [], root: 0))
            if let original = root?.input {
                original.metadata = Metadata.read(original.bytes)
                original.bytes = []
            }
            do { input = try RowCache(source, limits: DecodeLimits(maxPixels: header.maxPixels), toSRGB: header.toSRGB,
                                         shrink: header.shrink) } catch { failure = "\(error)" }
        } else {
            let bytes = try cluster.broadcast(root?.input.bytes ?? [])
            let shape = plan.stages[startStage].input
            input = WholeInput(Image(width: shape.width, height: shape.height, channels: shape.channels, pixels: bytes))
            if let settings = plan.stages[startStage].equalise {
                var w = ByteWriter()
                for v in root?.stats ?? [] { w.int(Int(v)) }
                var r = ByteReader(try cluster.broadcast(w.bytes))
                var sums: [UInt32] = []
                while !r.isAtEnd { sums.append(UInt32(truncatingIfNeeded: try r.int())) }
                tables = ClaheTables(settings: settings, histograms: sums, imageShape: shape)
            }
        }
        t.source = Date().timeIntervalSince(clock)

        let output = header.output(defaultQuality: rank.config.jpegQuality)
        for s in startStage..<plan.stages.count {
            let stage = plan.stages[s]
            let last = s == plan.stages.count - 1
            // A stage the next one makes again keeps only its histograms' sums. (The
            // same on every rank: the collectives after it depend on it.)
            let remade = !last && stage.finish == nil && !rank.config.durableTiles
            let kept = if remade, let settings = stage.histograms {
                KeptTiles(summing: settings, of: stage.output)
            } else {
                KeptTiles(encoding: last ? KeptTiles.encoding(stage, tiling: header.tiling, output: output) : nil)
            }
            guard try processAll(stage, index: s, input: input, tables: tables, failure: failure, kept: kept, deadline: deadline,
                                 timings: &t) else { return }
            t.encode += kept.encodeSeconds
            var held = kept.takeRegions()
            let stageTables = tables
            if let settings = stage.histograms {
                var local = kept.sums ?? [UInt32](repeating: 0, count: settings.histogramCount)
                for region in held.values { settings.add(region, imageShape: stage.output, to: &local) }
                let sums = try cluster.allreduceSum(local)
                tables = ClaheTables(settings: settings, histograms: sums, imageShape: stage.output)
                if rank.isRoot && rank.config.durableTiles { try retrying { try store.setStats(header.id, sums) } }
            }
            let stageInput = input
            input = nil

            if last {
                try finish(stage, kept: kept, held: &held, output: output, timings: &t, root: root, sentBefore: sentBefore)
                return
            }
            clock = Date()
            if remade {
                // Nothing to gather: each rank makes the tiles of the next stage
                // from this stage's input again (durable tiles keep the stitched
                // input in Redis instead, for a restart to resume from).
                held = [:]
                if rank.isRoot { try dealStage(s + 1, of: plan, input: nil) }
                // No rank claims a tile of the next stage before rank 0 has dealt them.
                _ = try cluster.broadcast([])
                input = stageInput.map { RemadeInput($0, stage: stage, tables: stageTables) }
                t.gather += Date().timeIntervalSince(clock)
                continue
            }
            let image = try gatherImage(&held, shape: stage.output)
            var next: [UInt8] = []
            let nextStage = plan.stages[s + 1]
            if let image {
                let stitched = stage.finishing(image)
                try dealStage(s + 1, of: plan, input: rank.config.durableTiles ? stitched.pixels : nil)
                next = stitched.pixels
            }
            let pixels = try cluster.broadcast(next)
            let shape = nextStage.input
            input = WholeInput(Image(width: shape.width, height: shape.height, channels: shape.channels, pixels: pixels))
            t.gather += Date().timeIntervalSince(clock)
        }
    }

    /// Rank 0 moves the job to stage `next` in Redis (with its stitched input,
    /// kept for a restart, when given) and deals the stage's tiles.
    private func dealStage(_ next: Int, of plan: Plan, input: [UInt8]?) throws {
        try retrying { try store.advance(id: header.id, stage: next, tiles: plan.stages[next].tiles(header.tiling),
                                         world: rank.world) }
        if let input { try retrying { try store.setStageInput(header.id, input) } }
        _ = try retrying { try store.deal(id: header.id, world: rank.world, maxAttempts: rank.config.maxAttempts,
                                          reason: "next stage", counted: false) }
    }

    /// Rounds of work until rank 0 has word of every tile of the stage (tiles
    /// are lost in transit when Redis restarts mid-claim; a round deals them
    /// again). Returns false when the job failed (rank 0 has recorded why).
    private func processAll(_ stage: Stage, index s: Int, input: StageInput?, tables: ClaheTables?, failure: String?,
                            kept: KeptTiles, deadline: Date?, timings t: inout Timings) throws -> Bool {
        let count = stage.tiles(header.tiling).count
        var expected = Set(0..<count)
        var stored: [Int] = []
        if rank.isRoot && rank.config.durableTiles && s == startStage {
            stored = try retrying { try store.storedOutputs(header.id) }.filter { $0 < count }
            expected.subtract(stored)
        }
        var reported = Set<Int>()
        for round in 0..<5 {
            var outcome = TileWork.Outcome(failure: failure)
            if failure == nil, let input {
                outcome = try TileWork(rank: rank, jobID: header.id, stage: stage, tiling: header.tiling, tables: tables,
                                       lane: lane, deadline: deadline, timeout: rank.config.jobTimeout)
                    .run(input: input, kept: kept)
            } else if let lane {
                outcome.lane = try lane.drain()
            }
            if let rows = input?.decoder {
                t.rowsHeld = max(t.rowsHeld, rows.peakRowsHeld)
                t.rowsRead = max(t.rowsRead, rows.rowsRead)
            }
            t.input += outcome.inputSeconds
            t.process += outcome.processSeconds
            t.redis += outcome.redisSeconds
            rank.logger.debug("tiles done", metadata: ["job": "\(header.id)", "stage": "\(s)", "tiles": "\(outcome.processed.count)",
                                                      "input_ms": "\(Int(outcome.inputSeconds * 1000))",
                                                      "process_ms": "\(Int(outcome.processSeconds * 1000))",
                                                      "redis_ms": "\(Int(outcome.redisSeconds * 1000))",
                                                      "decoders": "\(input?.decoder?.decodersOpened ?? 0)",
                                                      "rows": "\(input?.decoder?.rowsDecoded ?? 0)",
                                                      "skipped": "\(input?.decoder?.rowsSkipped ?? 0)"])
            var status = ByteWriter()
            status.text(outcome.failure ?? "")
            status.int(outcome.processed.count)
            for i in outcome.processed { status.int(i) }
            for small in outcome.lane { status.text(small.id); status.text(small.error ?? "") }
            let parts = try cluster.gatherv(status.bytes)
            var verdict = ""
            if rank.isRoot {
                var reason: String?
                for part in parts {
                    var r = ByteReader(part)
                    let why = try r.text()
                    if !why.isEmpty && reason == nil { reason = why }
                    for _ in 0..<(try r.int()) { reported.insert(try r.int()) }
                    var small: [WholeRound.Outcome] = []
                    while !r.isAtEnd {
                        let id = try r.text(), error = try r.text()
                        small.append(.init(id: id, error: error.isEmpty ? nil : error))
                    }
                    laneFeed?.settle(small)
                }
                try laneFeed?.flush()
                let missing = expected.subtracting(reported)
                if let reason {
                    verdict = reason.hasPrefix("the job ") ? "failed:\(reason)" : "failed:cannot process the image: \(reason)"
                } else if missing.isEmpty {
                    verdict = "complete"
                } else if round < 4 {
                    rank.logger.warning("\(missing.count) tiles lost in transit; dealing them again", metadata: ["job": "\(header.id)"])
                    _ = try retrying { try store.deal(id: header.id, world: rank.world, maxAttempts: rank.config.maxAttempts,
                                                      reason: "tiles lost", counted: false, only: missing.sorted()) }
                    verdict = "again"
                } else {
                    verdict = "failed:\(missing.count) tiles were lost in transit five times"
                }
            }
            verdict = String(decoding: try cluster.broadcast(Array(verdict.utf8)), as: UTF8.self)
            if verdict == "complete" { break }
            if verdict.hasPrefix("failed:") {
                if rank.isRoot {
                    try retrying { try store.fail(id: header.id, reason: String(verdict.dropFirst(7)), world: rank.world) }
                }
                return false
            }
        }
        // Outputs stored by an earlier attempt (--durable-tiles) join rank 0's own.
        if !stored.isEmpty {
            let grid = stage.tiles(header.tiling)
            for (index, pixels) in try retrying({ try store.outputs(header.id, of: stored) }) {
                let core = grid[index].core
                guard pixels.count == core.area * stage.output.channels else { continue }
                try kept.keep(index, Region(image: Image(width: core.width, height: core.height, channels: stage.output.channels,
                                                         pixels: pixels), x: core.x, y: core.y))
            }
        }
        return true
    }

    /// The stage's tiles stitched at rank 0 (MPI_Gatherv); nil elsewhere.
    private func gatherImage(_ held: inout [Int: Region], shape: Shape) throws -> Image? {
        let mine = rank.isRoot ? [] : Array(held.values).packed
        if !rank.isRoot { held.removeAll() }
        let parts = try cluster.gatherv(mine)
        guard rank.isRoot else { return nil }
        var image = Image(width: shape.width, height: shape.height, channels: shape.channels)
        for r in held.values { image.paste(r.image, atX: r.x, y: r.y) }
        held.removeAll()
        for part in parts {
            for r in try [Region](unpacking: part) { image.paste(r.image, atX: r.x, y: r.y) }
        }
        return image
    }

    /// The last stage: the result stored in Redis (JPEG and PNG written there in place
    /// by the ranks that encoded its bands, others encoded whole at rank 0), with the job's timings.
    private func finish(_ stage: Stage, kept: KeptTiles, held: inout [Int: Region], output: OutputEncoding, timings t: inout Timings,
                        root: Root?, sentBefore: Int) throws {
        var result: [UInt8]?
        var frame: EncodedBand.Frame?
        var encodeFailure: String?
        // The source's metadata, kept in the result's headers: from the original this job
        // was started with, or from Redis when resumed.
        let metadata = try root.map { root in
            try root.input.metadata ?? Metadata.read(retrying { try store.source(header.id) } ?? [])
        }
        if EncodedBand.joins(output.format) {
            // Each rank writes its bands into the result in Redis; rank 0 gathers what places them.
            let placed = PlacedBands(shape: stage.output) { [store, header] length in
                try retrying { try store.reserveWritten(header.id, length: length) }
            } put: { [store, header] y, offset, bytes in
                try retrying { try store.placeBand(header.id, y: y, at: offset, bytes) }
            }
            if kept.encoding != nil {
                for band in kept.takeBands() { placed.add(band) }
            } else {
                if stage.finish != nil {
                    // A global step (canny's hysteresis) needs the whole image: rank 0 gathers
                    // and finishes it, then every rank encodes a band of it, as of any stage.
                    let clock = Date()
                    let image = try gatherImage(&held, shape: stage.output)
                    let finishing = Date()
                    t.gather += finishing.timeIntervalSince(clock)
                    held = image.map { [0: Region(image: stage.finishing($0), x: 0, y: 0)] } ?? [:]
                    t.process += Date().timeIntervalSince(finishing)
                }
                let seconds = try BandEncoding(cluster: cluster, output: output).run(&held, shape: stage.output, into: placed)
                t.gather += seconds.exchangeSeconds
                t.encode += seconds.encodeSeconds
            }
            let clock = Date()
            let joining = try placed.place(cluster) { [header] head in try header.keeping(metadata ?? Metadata(), in: head) }
            t.gather += Date().timeIntervalSince(clock) - placed.storeSeconds
            t.redis += placed.storeSeconds
            switch joining {
            case let .frame(joined)?: frame = joined
            case let .failed(why)?: encodeFailure = why
            case nil: break
            }
        } else {
            let clock = Date()
            let image = try gatherImage(&held, shape: stage.output)
            t.gather += Date().timeIntervalSince(clock)
            if let image {
                let encodeClock = Date()
                do { result = try header.keeping(metadata ?? Metadata(), in: try output.encode(stage.finishing(image))) } catch {
                    encodeFailure = "\(error)"
                }
                t.encode += Date().timeIntervalSince(encodeClock)
            }
        }
        // The most bytes a rank sent over MPI meanwhile (small jobs run beside count too).
        let sent = Double(Cluster.bytesSent - sentBefore)
        let most = try cluster.allreduceMax(t.all + [Double(t.rowsHeld), Double(t.rowsRead), sent])
        let slowest = most.dropLast(3)
        guard let root else { return }
        guard let size = result?.count ?? frame?.count else {
            try retrying { try store.fail(id: header.id, reason: "encoding the result failed: \(encodeFailure ?? "")",
                                          world: rank.world) }
            return
        }
        let (held, read, sentMost) = (Int(most[most.count - 3]), Int(most[most.count - 2]), Int(most[most.count - 1]))
        var fields: [String: String] = ["output_bytes": String(size), "world": String(rank.world)]
        fields["rows_held"] = String(held)
        fields["rows_read"] = String(read)
        fields["mpi_bytes"] = String(sentMost)
        for (name, seconds) in zip(Timings.names, slowest) { fields["t_\(name)_ms"] = String(Int(seconds * 1000)) }
        fields["t_total_ms"] = String(Int(Date().timeIntervalSince(root.started) * 1000))
        if let frame {
            try retrying { try store.finish(id: header.id, head: frame.head, bandRows: frame.rows, tail: frame.tail,
                                            world: rank.world, fields: fields) }
        } else if let result {
            try retrying { try store.finish(id: header.id, result: result, world: rank.world, fields: fields) }
        }
        rank.logger.info("job done", metadata: ["job": "\(header.id)", "ms": "\(fields["t_total_ms"]!)"])
    }
}
