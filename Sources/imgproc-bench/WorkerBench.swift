import Foundation
import ImageCodecs
import ImageCore
import Jobs
import Supervision
import TileStore
import Worker

/// The MPI workers against the Redis of REDIS_URL: a 24 MP JPEG from enqueue
/// to result on 1 and 2 ranks, blur:3 (decoding and encoding weigh) and
/// median:3 (processing weighs), with each phase's time.
enum WorkerBench {
    static func run(url base: RedisURL, image: Image) throws {
        var url = base
        url.database = 1
        let store = try TileStore(url: url)
        let waiter = try JobWaiter(url: url)
        let big = try Codec.encode(image, as: .jpeg, quality: 90)
        print("\nworkers (imgproc workers, Redis db 1): 24 MP JPEG (\(String(format: "%.1f", Double(big.count) / 1e6)) MB), enqueue to result, best of 3")
        var times: [String: [Int: Double]] = [:]
        for ranks in [1, 2] {
            try store.flushDatabase()
            let workers = try startWorkers(ranks: ranks, url: url, store: store)
            defer { workers.signal(SIGTERM); _ = workers.wait() }
            for ops in ["blur:3", "median:3"] {
                var best = Double.infinity
                var record: JobRecord?
                for _ in 0..<(ops == "blur:3" ? 4 : 2) {
                    let start = Date()
                    let job = try JobSubmission(bytes: big, ops: ops)
                    try job.submit(to: store)
                    let end = try waiter.wait([job.id])[0]
                    if end.timeIntervalSince(start) < best {
                        best = end.timeIntervalSince(start)
                        record = try store.job(job.id)
                    }
                }
                times[ops, default: [:]][ranks] = best
                let phases = ["source", "input", "process", "redis", "gather", "encode", "total"].map { name in
                    "\(name) \(record?.timings[name] ?? 0)"
                }
                print(String(format: "%d rank(s), %@: %.3f s  (ms, slowest rank each: %@)", ranks, ops, best,
                             phases.joined(separator: ", ")))
            }
        }
        for ops in ["blur:3", "median:3"] {
            print(String(format: "speed-up of 2 ranks over 1, 24 MP %@: %.2fx", ops, times[ops]![1]! / times[ops]![2]!))
        }
    }

    /// `imgproc workers --np N` on `url`, once every rank has reported.
    static func startWorkers(ranks: Int, url: RedisURL, store: TileStore, extra: [String] = []) throws -> ChildProcess {
        let imgproc = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("imgproc").path
        let workers = try ChildProcess(imgproc, ["workers", "--np", String(ranks), "--redis", url.full]
                                       + extra, output: FileManager.default.temporaryDirectory.appendingPathComponent("imgproc-bench-workers.log").path)
        try waitFor(seconds: 30) { try store.heartbeats().count >= ranks }
        Thread.sleep(forTimeInterval: 0.5)
        return workers
    }

    static func waitDone(_ store: TileStore, _ ids: [String]) throws -> [JobRecord] {
        var records: [JobRecord] = []
        try waitFor(seconds: 600) {
            records = try store.jobs(ids).compactMap { $0 }
            return records.count == ids.count && records.allSatisfy(\.isFinished)
        }
        return records
    }

    static func waitFor(seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.005)
        }
        throw BenchError(.timedOut, "timed out waiting for the workers")
    }
}
