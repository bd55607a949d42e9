import Foundation
import ImageCore
import Logging
import TileStore

/// Ranks other than 0: wait for rank 0's command, work on the stage it
/// names, and take part in the gather and reductions; until told to stop.
struct Follower {
    let runner: StageRunner
    let cluster: ClusterLink
    let heartbeat: Heartbeat

    func run() throws {
        while true {
            let command = try Command(bytes: try cluster.broadcast([]))
            if command.kind == .stop { return }
            heartbeat.setJob(command.job)
            _ = try StageRound(runner: runner, cluster: cluster).run(jobID: command.job, stageIndex: command.stage)
            heartbeat.setJob("")
        }
    }
}

/// The MPI operations the worker needs (the ``Cluster`` in production).
protocol ClusterLink {
    var rank: Int { get }
    var size: Int { get }
    func broadcast(_ bytes: [UInt8], root: Int) throws -> [UInt8]
    func gatherv(_ bytes: [UInt8], root: Int) throws -> [[UInt8]]
    func allreduceSum(_ values: [UInt32]) throws -> [UInt32]
    func allreduceMax(_ value: Double) throws -> Double
}

extension ClusterLink {
    func broadcast(_ bytes: [UInt8]) throws -> [UInt8] { try broadcast(bytes, root: 0) }
}

/// One round of a stage, the same sequence of collectives on every rank:
/// process tiles, MPI_Gatherv of the outputs to rank 0, MPI_Allreduce of
/// clahe's histograms (when the stage has them) and of the timings.
struct StageRound {
    let runner: StageRunner
    let cluster: ClusterLink

    struct Result {
        var gathered: [(index: Int, region: Region)] = []
        var histograms: [UInt32]?
        var processSeconds = 0.0
        var redisSeconds = 0.0
        var gatherSeconds = 0.0
    }

    /// - Parameter extraHistograms: rank 0 adds the contribution of tiles done in
    ///   earlier attempts; it gets the tiles gathered in this round.
    func run(jobID: String, stageIndex: Int,
             extraHistograms: (Stage, [(index: Int, region: Region)]) throws -> [UInt32]? = { _, _ in nil }) throws -> Result {
        var result = Result()
        var outcome = StageRunner.Outcome()
        var stage: Stage?
        // A job that cannot be read gives an empty share; the collectives still happen.
        if let job = try retrying({ try runner.store.job(jobID) }), let shape = job.inputShape,
           let plan = try? Plan(try Pipeline(parsing: job.ops), input: shape), stageIndex < plan.stages.count {
            let s = plan.stages[stageIndex]
            stage = s
            var tables: ClaheTables?
            if let settings = s.equalise, let sums = try retrying({ try runner.store.stats(jobID) }) {
                tables = ClaheTables(settings: settings, histograms: sums, imageShape: s.input)
            }
            if s.equalise == nil || tables != nil {
                outcome = try runner.run(job: job, stage: s, tables: tables)
            } else {
                runner.logger.error("stage \(stageIndex) of job \(jobID) has no clahe statistics in Redis")
            }
        }
        let started = Date()
        // Rank 0 keeps its own tiles as they are; the others' arrive by MPI_Gatherv.
        let isRoot = cluster.rank == 0
        let parts = try cluster.gatherv(isRoot ? [] : TilePacking.pack(outcome.tiles), root: 0)
        if isRoot { result.gathered = outcome.tiles + parts.flatMap(TilePacking.unpack) }
        result.gatherSeconds = Date().timeIntervalSince(started)
        if let stage, let settings = stage.histograms {
            var local = [UInt32](repeating: 0, count: settings.histogramCount)
            for tile in outcome.tiles {
                let part = settings.histograms(of: tile.region, imageShape: stage.output)
                for i in part.indices { local[i] &+= part[i] }
            }
            if let extra = try extraHistograms(stage, result.gathered) { for i in extra.indices { local[i] &+= extra[i] } }
            result.histograms = try cluster.allreduceSum(local)
        }
        result.processSeconds = try cluster.allreduceMax(outcome.processSeconds)
        result.redisSeconds = try cluster.allreduceMax(outcome.redisSeconds)
        return result
    }
}
