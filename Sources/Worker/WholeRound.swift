import Foundation
import ImageCodecs
import ImageCore
import TileStore

/// A round of whole jobs: small images, each decoded, processed and encoded
/// by the one rank that takes it, its own share first, then stealing from
/// the others (`take.lua`). That rank stores the result in Redis at once, so
/// a client learns of it without waiting for the round. While the round is
/// open rank 0 adds jobs queued meanwhile (``RoundFeed``), so a stream of
/// small images keeps every rank busy; once it is closed and empty, one
/// MPI_Gatherv brings every job's outcome to rank 0, which acknowledges the
/// queue entries and announces job.done.
struct WholeRound {
    let rank: RankContext
    /// Names the round's lists in Redis.
    let consumer: String
    /// Rank 0's feeder: called between jobs, and while the lists are empty (`idle`).
    var feed: ((_ idle: Bool) throws -> Void)?

    /// How a job of the round ended.
    struct Outcome {
        var id: String
        /// Why the image could not be processed; nil when the job is done.
        var error: String?
    }

    /// Every outcome of the round at rank 0; [] elsewhere.
    func run() throws -> [Outcome] {
        var mine: [Outcome] = []
        var pause = 0.001
        taking: while true {
            switch try retrying({ try rank.store.take(consumer: consumer, rank: rank.index, world: rank.world) }) {
            case .over:
                break taking
            case .wait:
                // Rank 0 may add jobs while the round is open; look again soon, then less often.
                if let feed { try feed(true) } else { Thread.sleep(forTimeInterval: pause) }
                pause = min(pause * 2, 0.016)
            case let .job(id, _):
                mine.append(try runJob(id))
                try feed?(false)
                pause = 0.001
            }
        }
        rank.heartbeat.setJob("")

        var w = ByteWriter()
        for o in mine {
            w.text(o.id)
            w.text(o.error ?? "")
        }
        let parts = try rank.cluster.gatherv(w.bytes)
        guard rank.isRoot else { return [] }
        var outcomes: [Outcome] = []
        for part in parts {
            var r = ByteReader(part)
            while !r.isAtEnd {
                let id = try r.text(), error = try r.text()
                outcomes.append(Outcome(id: id, error: error.isEmpty ? nil : error))
            }
        }
        return outcomes
    }

    /// One job end to end, as `imgproc process` does it, and its result stored.
    func runJob(_ id: String) throws -> Outcome {
        rank.heartbeat.setJob(id)
        var clock = Date()
        let started = clock
        let (job, source) = try retrying { try rank.store.jobAndSource(id) }
        guard let job, let header = JobHeader(job) else { return Outcome(id: id, error: "the job cannot be read") }
        rank.crashIfPoisoned(header)
        if rank.config.tileDelay > 0 && (rank.config.slowRank == nil || rank.index == rank.config.slowRank) {
            Thread.sleep(forTimeInterval: rank.config.tileDelay)
        }
        var fields = ["world": String(rank.world), "rank": String(rank.index)]
        func lap(_ phase: String) {
            fields["t_\(phase)_ms"] = String(Int(Date().timeIntervalSince(clock) * 1000))
            clock = Date()
        }
        var failure: String?
        var result: [UInt8] = []
        if let source {
            lap("source")
            do {
                // A large JPEG (a thumbnail's, shrunk on load) on two cores when its restart markers allow.
                let image = try Codec.decode(source, limits: DecodeLimits(maxPixels: header.maxPixels), toSRGB: header.toSRGB,
                                             shrink: header.shrink, threads: 2).image
                lap("decode")
                let output = Runner.reference(image, plan: try header.plan())
                lap("process")
                result = try header.keepingMetadata(of: source, in: header.output(defaultQuality: rank.config.jpegQuality).encode(output))
                lap("encode")
            } catch {
                failure = "\(error)"
            }
        } else {
            failure = "its original is no longer in Redis"
        }
        if let failure {
            try retrying { try rank.store.fail(id: id, reason: "cannot process the image: \(failure)", world: rank.world) }
        } else {
            fields["output_bytes"] = String(result.count)
            fields["t_total_ms"] = String(Int(Date().timeIntervalSince(started) * 1000))
            try retrying { try rank.store.finishWhole(id: id, rank: rank.index, result: result, world: rank.world, fields: fields) }
        }
        return Outcome(id: id, error: failure)
    }
}

/// Small jobs run beside a tiled job: a round kept open while it runs, from
/// which any rank takes one job between its tile batches. So a small job
/// submitted while a large one runs finishes in about its own time, not after
/// the large one. Rank 0 feeds it (``RoundFeed``) and, at the end of a stage,
/// closes it and runs what is left.
struct Lane {
    let round: WholeRound

    /// One small job, if one is waiting (rank 0 first adds those queued since).
    func runOne() throws -> WholeRound.Outcome? {
        try round.feed?(false)
        guard case let .job(id, _) = try retrying({ try round.rank.store.take(consumer: round.consumer, rank: round.rank.index,
                                                                                 world: round.rank.world) }) else { return nil }
        return try round.runJob(id)
    }

    /// The jobs left when this rank's tiles are done: others take what is
    /// there; rank 0 closes the lane and runs every one left.
    func drain() throws -> [WholeRound.Outcome] {
        var outcomes: [WholeRound.Outcome] = []
        if round.rank.isRoot { try retrying { try round.rank.store.closeRound(consumer: round.consumer) } }
        while case let .job(id, _) = try retrying({ try round.rank.store.take(consumer: round.consumer, rank: round.rank.index,
                                                                                world: round.rank.world) }) {
            outcomes.append(try round.runJob(id))
        }
        return outcomes
    }
}
