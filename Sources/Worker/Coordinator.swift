import Foundation
import ImageCodecs
import ImageCore
import JobEvents
import Logging
import SystemMemory
import TileStore

/// Rank 0: takes jobs from the queue and runs them with the world. A large
/// job runs tiled across every rank (``TiledJob``); small jobs, which run
/// whole, go out in rounds (``WholeRound``). Rank 0 prepares Redis (deals
/// tiles, starts attempts), broadcasts the command, works like any rank,
/// then records the results and announces them.
package struct Coordinator {
    let rank: RankContext
    /// Signalled by job.created events; rank 0 also looks at the queue every poll interval.
    let wake: DispatchSemaphore
    /// Set when the world is asked to stop (SIGUSR1): no more jobs are taken.
    let stop: StopRequest
    let events: EventPublisher?

    package init(rank: RankContext, wake: DispatchSemaphore, stop: StopRequest = StopRequest(), events: EventPublisher?) {
        self.rank = rank
        self.wake = wake
        self.stop = stop
        self.events = events
    }
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

    package func run() throws {
        var idleSince = Date()
        var worked = false
        let count = config.jobsPerRound ?? max(4, 4 * rank.world)
        while true {
            if stop.isRequested {
                logger.info("stopping the world, as asked: the work in hand is done")
                _ = try rank.cluster.broadcast(Command.stop.bytes)
                return
            }
            let entries = try retrying { try store.nextJobs(consumer: config.consumer, minIdle: config.reclaimAfter, count: count) }
            if entries.isEmpty {
                if let limit = config.exitWhenIdle, Date().timeIntervalSince(idleSince) >= limit {
                    _ = try rank.cluster.broadcast(Command.stop.bytes)
                    return
                }
                // Quiet for a moment after work: every rank gives back what glibc's
                // arenas kept of the images it freed (tens of MB per rank otherwise).
                if worked && Date().timeIntervalSince(idleSince) >= 2 {
                    _ = try rank.cluster.broadcast(Command.trim.bytes)
                    SystemMemory.giveBack()
                    worked = false
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
            worked = true
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
            guard let header = JobHeader(record), let plan = try? header.plan() else {
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
        guard let status = job.status, job.isFinished else { return }
        announce(id: job.id, status: status, error: job.error)
    }

    func announce(id: String, status: JobStatus, error: String?) {
        events?.publish(JobEvent(id: id, status: status.rawValue, error: error))
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
            try retrying { try store.advance(id: id, stage: 0, tiles: taken.plan.stages[0].tiles(taken.header.tiling),
                                             world: rank.world) }
        }
        let dealt: TileStore.DealResult
        do {
            dealt = try retrying { try store.deal(id: id, world: rank.world, maxAttempts: config.maxAttempts, reason: reason(taken)) }
        } catch let error as RedisError where error.code == .tilesMissing {
            // A crash cut the writing of this stage's tiles short: write them again.
            logger.warning("the stage's tiles are incomplete; writing them again", metadata: ["job": "\(id)"])
            try retrying { try store.advance(id: id, stage: stage, tiles: taken.plan.stages[stage].tiles(taken.header.tiling),
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
        let input: TiledJob.RootInput
        if let stageInput {
            input = TiledJob.RootInput(stageInput)
        } else {
            guard let source = try retrying({ try store.source(id) }) else {
                try retrying { try store.fail(id: id, reason: "its original is no longer in Redis", world: rank.world) }
                try settle(taken.entry)
                return
            }
            input = TiledJob.RootInput(source)
        }
        // Small jobs queued meanwhile run beside it, in a lane (see Lane).
        let lane = RoundFeed(coordinator: self, mode: .lane)
        try retrying { try store.openRound([], consumer: config.consumer, world: rank.world) }
        _ = try rank.cluster.broadcast(Command(kind: .tiled, jobs: [taken.header], stage: stage, consumer: config.consumer).bytes)
        try TiledJob(rank: rank, header: taken.header, startStage: stage,
                     lane: Lane(round: WholeRound(rank: rank, consumer: config.consumer) { idle in try lane.step(idle: idle) }),
                     laneFeed: lane)
            .run(root: TiledJob.Root(input: input, stats: stats, started: started))
        try settle(taken.entry)
        try lane.flush()
    }

    // MARK: Rounds of whole jobs

    func runRound(_ batch: [Taken]) throws {
        let feed = RoundFeed(coordinator: self)
        let running = try feed.begin(batch)
        if !running.isEmpty {
            try retrying { try store.openRound(running, consumer: config.consumer, world: rank.world) }
            _ = try rank.cluster.broadcast(Command(kind: .round, consumer: config.consumer).bytes)
            let outcomes = try WholeRound(rank: rank, consumer: config.consumer) { idle in try feed.step(idle: idle) }.run()
            feed.settle(outcomes)
            if feed.unsettled > 0 {
                // A take whose reply was lost (Redis restarting): those jobs stay pending and run in the next round.
                logger.warning("\(feed.unsettled) jobs of the round were not run; they run again")
            }
        }
        try feed.flush()
    }
}

/// Rank 0's side of a round of whole jobs: starts its jobs, adds those
/// queued while it runs, closes it, and collects how each job ended. A
/// round runs alone; a lane runs beside a tiled job (``Lane``) and is never
/// closed by time.
final class RoundFeed {
    enum Mode { case round, lane }
    let coordinator: Coordinator
    let mode: Mode
    private var entries: [String: TileStore.QueueEntry] = [:]
    private(set) var settled: [(entry: TileStore.QueueEntry, status: JobStatus, error: String?)] = []
    private let opened = Date()
    private var lastArrival = Date()
    private var closed = false
    /// Jobs added after the round opened, and tiled jobs left for after it.
    private(set) var added = 0
    private var tiledWaiting = false
    /// The longest a round stays open, and how long an idle rank 0 waits for more jobs before closing it.
    static let longest = 0.5, patience = 0.005

    init(coordinator: Coordinator, mode: Mode = .round) {
        self.coordinator = coordinator
        self.mode = mode
    }

    private var store: TileStore { coordinator.store }
    private var config: WorkerConfiguration { coordinator.config }
    private var world: Int { coordinator.rank.world }

    /// Starts jobs (attempt counted, or failed when used up); returns those running.
    func begin(_ jobs: [Coordinator.Taken]) throws -> [String] {
        let results = try retrying {
            try store.begin(jobs.map { ($0.id, coordinator.reason($0)) }, world: world, maxAttempts: config.maxAttempts)
        }
        var running: [String] = []
        for (taken, result) in zip(jobs, results) {
            switch result {
            case .failed(let why):
                coordinator.logger.warning("job failed", metadata: ["job": "\(taken.id)", "reason": "\(why)"])
                // begin.lua recorded the reason; this deletes the job's working keys.
                try retrying { try store.fail(id: taken.id, reason: why, world: world) }
                settled.append((taken.entry, .failed, why))
            case .running:
                entries[taken.id] = taken.entry
                running.append(taken.id)
            }
        }
        coordinator.rank.heartbeat.addEntries(jobs.filter { running.contains($0.id) }.map(\.entry.entry))
        return running
    }

    /// Adds jobs queued since the round opened; closes the round when it has run
    /// long enough, a tiled job waits, or (`idle`) no job came for a moment.
    func step(idle: Bool) throws {
        guard !closed else {
            if idle { Thread.sleep(forTimeInterval: 0.001) }
            return
        }
        let fresh = mode == .round && tiledWaiting ? [] : try retrying {
            try store.newJobs(consumer: config.consumer, count: 4 * world, seconds: idle ? Self.patience : 0)
        }
        if !fresh.isEmpty {
            lastArrival = Date()
            var whole: [Coordinator.Taken] = []
            // One at a time: small jobs behind a tiled one still join; the tiled one stays pending.
            for entry in fresh {
                for taken in try coordinator.select([entry]) {
                    if taken.job.runsWhole && !taken.interrupted { whole.append(taken) } else { tiledWaiting = true }
                }
            }
            let running = try begin(whole)
            try retrying { try store.addToRound(running, consumer: config.consumer, world: world) }
            added += running.count
        }
        guard mode == .round else { return }
        let now = Date()
        if tiledWaiting || now.timeIntervalSince(opened) > Self.longest || (idle && now.timeIntervalSince(lastArrival) >= Self.patience) {
            try retrying { try store.closeRound(consumer: config.consumer) }
            closed = true
        }
    }

    /// Records how jobs of the round ended.
    func settle(_ outcomes: [WholeRound.Outcome]) {
        for outcome in outcomes {
            guard let entry = entries.removeValue(forKey: outcome.id) else { continue }
            settled.append((entry, outcome.error == nil ? .done : .failed, outcome.error.map { "cannot process the image: \($0)" }))
        }
    }

    /// Jobs started and not yet ended.
    var unsettled: Int { entries.count }

    /// Acknowledges the queue entries of the jobs that ended and announces them.
    func flush() throws {
        try retrying { try store.acknowledge(settled.map(\.entry)) }
        for (entry, status, error) in settled { coordinator.announce(id: entry.jobID, status: status, error: error) }
        settled = []
    }
}
