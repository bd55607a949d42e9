import Foundation
import ImageCodecs
import ImageCore
import JobEvents
import Logging
import TileStore

/// Rank 0: takes jobs from the queue and runs them with the world. A large
/// job runs tiled across every rank (``TiledJob``); small jobs, which run
/// whole, go out in rounds (``WholeRound``). Rank 0 prepares Redis (deals
/// tiles, starts attempts), broadcasts the command, works like any rank,
/// then records the results and announces them.
struct Coordinator {
    let rank: RankContext
    /// Signalled by job.created events; rank 0 also looks at the queue every poll interval.
    let wake: DispatchSemaphore
    let events: EventPublisher?
    var config: WorkerConfiguration { rank.config }
    var store: TileStore { rank.store }
    var logger: Logger { rank.logger }

    /// A job taken from the queue, with its record.
    struct Taken {
        let entry: TileStore.QueueEntry
        let job: JobRecord
        let header: JobHeader
        let plan: Plan
        var id: String { header.id }
        /// Started before and not finished: the world running it stopped.
        var interrupted: Bool { job.status == .running }
    }

    func run() throws {
        var idleSince = Date()
        let count = config.jobsPerRound ?? max(4, 4 * rank.world)
        while true {
            let entries = try retrying { try store.nextJobs(consumer: config.consumer, minIdle: config.reclaimAfter, count: count) }
            if entries.isEmpty {
                if let limit = config.exitWhenIdle, Date().timeIntervalSince(idleSince) >= limit {
                    _ = try rank.cluster.broadcast(Command.stop.bytes)
                    return
                }
                // A job.created event, or a new entry in the queue itself, ends the wait.
                if wake.wait(timeout: .now()) != .success {
                    _ = try retrying { try store.waitForJobs(consumer: config.consumer, seconds: config.pollInterval) }
                }
                continue
            }
            rank.heartbeat.setEntries(entries.map(\.entry))
            let batch = try select(entries)
            if let first = batch.first, !first.job.runsWhole {
                try runTiled(first)
            } else if !batch.isEmpty {
                try runRound(batch)
            }
            rank.heartbeat.setEntries([])
            idleSince = Date()
        }
    }

    /// What to run next, in queue order: one tiled job, or a round of whole jobs
    /// (up to the next tiled one). A whole job that was interrupted runs in a
    /// round of its own, so that a poison image uses up only its own attempts.
    /// Entries of jobs already finished or unreadable are settled here.
    func select(_ entries: [TileStore.QueueEntry]) throws -> [Taken] {
        let records = try retrying { try store.jobs(entries.map(\.jobID)) }
        var batch: [Taken] = []
        for (entry, record) in zip(entries, records) {
            guard let record else {
                try retrying { try store.acknowledge(entry) }
                continue
            }
            if record.isFinished {
                // Finished before an interruption: the event may not have gone out.
                try retrying { try store.acknowledge(entry) }
                announce(record)
                continue
            }
            guard let header = JobHeader(record), let plan = try? header.plan(maxPixels: .max) else {
                try retrying { try store.fail(id: record.id, reason: "the job's pipeline or sizes cannot be read", world: rank.world) }
                try settle(entry)
                continue
            }
            let taken = Taken(entry: entry, job: record, header: header, plan: plan)
            if !record.runsWhole {
                if batch.isEmpty { return [taken] }
                break
            }
            if taken.interrupted && !batch.isEmpty { break }
            batch.append(taken)
            if taken.interrupted { break }
        }
        return batch
    }

    /// Acknowledges a job's queue entry and announces how it ended.
    func settle(_ entry: TileStore.QueueEntry) throws {
        try retrying { try store.acknowledge(entry) }
        if let job = try retrying({ try store.job(entry.jobID) }) { announce(job) }
    }

    /// Publishes job.done with the job's final status (and why it failed).
    func announce(_ job: JobRecord) {
        guard let events, let status = job.status, job.isFinished else { return }
        events.publish(JobEvent(id: job.id, status: status.rawValue, error: job.error))
    }

    func reason(_ taken: Taken) -> String {
        taken.interrupted ? (config.lastExit ?? "the workers running it stopped before it was done") : "start"
    }

    // MARK: Tiled jobs

    func runTiled(_ taken: Taken) throws {
        let id = taken.id
        let started = Date()
        logger.info("\(taken.interrupted ? "resuming" : "starting") job", metadata: ["job": "\(id)", "ops": "\(taken.header.ops)"])
        // Where to start: where it stopped, when --durable-tiles kept that stage's input; else from the original.
        var stage = 0
        var stageInput: [UInt8]?
        var stats: [UInt32]?
        if taken.interrupted && config.durableTiles && taken.job.stage > 0 && taken.job.stage < taken.plan.stages.count {
            let s = taken.plan.stages[taken.job.stage]
            let input = try retrying { try store.stageInput(id) }
            let sums = s.equalise == nil ? [] : try retrying { try store.stats(id) }
            if let input, input.count == s.input.pixelCount * s.input.channels, let sums {
                stage = taken.job.stage
                stageInput = input
                stats = sums
            }
        }
        if stage != taken.job.stage {
            try retrying { try store.advance(id: id, stage: 0, tiles: taken.plan.stages[0].tiles(tileSize: taken.header.tileSize),
                                             world: rank.world) }
        }
        let dealt: TileStore.DealResult
        do {
            dealt = try retrying { try store.deal(id: id, world: rank.world, maxAttempts: config.maxAttempts, reason: reason(taken)) }
        } catch let error as RedisError where error.message.contains("TILES") {
            // A crash cut the writing of this stage's tiles short: write them again.
            logger.warning("the stage's tiles are incomplete; writing them again", metadata: ["job": "\(id)"])
            try retrying { try store.advance(id: id, stage: stage, tiles: taken.plan.stages[stage].tiles(tileSize: taken.header.tileSize),
                                             world: rank.world) }
            dealt = try retrying { try store.deal(id: id, world: rank.world, maxAttempts: config.maxAttempts, reason: reason(taken)) }
        }
        if case let .failed(why) = dealt {
            logger.warning("job failed", metadata: ["job": "\(id)", "reason": "\(why)"])
            // deal.lua recorded the reason; this deletes the job's working keys.
            try retrying { try store.fail(id: id, reason: why, world: rank.world) }
            try settle(taken.entry)
            return
        }
        var input = stageInput ?? []
        if stageInput == nil {
            guard let source = try retrying({ try store.source(id) }) else {
                try retrying { try store.fail(id: id, reason: "its original is no longer in Redis", world: rank.world) }
                try settle(taken.entry)
                return
            }
            input = source
        }
        _ = try rank.cluster.broadcast(Command(kind: .tiled, jobs: [taken.header], stage: stage).bytes)
        try TiledJob(rank: rank, header: taken.header, startStage: stage)
            .run(root: TiledJob.Root(input: input, stats: stats, started: started))
        try settle(taken.entry)
    }

    // MARK: Rounds of whole jobs

    func runRound(_ batch: [Taken]) throws {
        let started = Date()
        var running: [Taken] = []
        for taken in batch {
            switch try retrying({ try store.begin(id: taken.id, world: rank.world, maxAttempts: config.maxAttempts,
                                                  reason: reason(taken)) }) {
            case .failed(let why):
                logger.warning("job failed", metadata: ["job": "\(taken.id)", "reason": "\(why)"])
                try retrying { try store.fail(id: taken.id, reason: why, world: rank.world) }
                try settle(taken.entry)
            case .running:
                running.append(taken)
            }
        }
        guard !running.isEmpty else { return }
        try retrying { try store.dealRound(running.map(\.id), consumer: config.consumer, world: rank.world) }
        _ = try rank.cluster.broadcast(Command(kind: .round, jobs: running.map(\.header), consumer: config.consumer).bytes)
        let results = try WholeRound(rank: rank, jobs: running.map(\.header), consumer: config.consumer).run()
        let byID = Dictionary(running.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for result in results {
            guard let taken = byID[result.id] else { continue }
            if let error = result.error {
                try retrying { try store.fail(id: result.id, reason: "cannot process the image: \(error)", world: rank.world) }
            } else {
                var fields = ["output_bytes": String(result.bytes.count), "world": String(rank.world), "rank": String(result.rank)]
                for (name, seconds) in zip(WholeRound.Result.phases, result.seconds) { fields["t_\(name)_ms"] = String(Int(seconds * 1000)) }
                fields["t_total_ms"] = String(Int(Date().timeIntervalSince(started) * 1000))
                try retrying { try store.finish(id: result.id, result: result.bytes, world: rank.world, fields: fields) }
            }
            try settle(taken.entry)
        }
        if results.count < running.count {
            // A take whose reply was lost (Redis restarting): those jobs stay pending and run in the next round.
            logger.warning("\(running.count - results.count) jobs of the round were not run; they run again")
        }
    }
}
