import Foundation
import ImageCodecs
import ImageCore
import Jobs
import TileStore
import Worker

/// End-to-end figures of the MPI workers against the Redis of REDIS_URL:
/// a 24 MP JPEG with blur:3 and a batch of 2 MP JPEGs, on 1 and 2 ranks.
enum WorkerBench {
    static func run(url base: RedisURL, image: Image) throws {
        var url = base
        url.database = 1
        let store = try TileStore(url: url)
        let big = try Codec.encode(image, as: .jpeg, quality: 90)
        let small = try (0..<50).map { k in
            try Codec.encode(image.cropped(to: Rect(x: (k * 97) % 4000, y: (k * 53) % 2800, width: 1732, height: 1155)),
                             as: .jpeg, quality: 90)
        }
        print("\nworkers (mpirun, Redis db 1), 24 MP JPEG and 50 x 2 MP JPEGs, blur:3, 256-px tiles")
        var totals: [String: Double] = [:], rates: [String: Double] = [:]
        for (ranks, durable) in [(1, true), (2, true), (1, false), (2, false)] {
            let setup = "\(ranks) rank(s)\(durable ? "" : ", --no-durable-tiles")"
            try store.connection.command(["FLUSHDB"])
            let imgproc = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
                .appendingPathComponent("imgproc").path
            let workers = try ChildProcess(imgproc, ["workers", "--np", String(ranks), "--redis", "redis://\(url.host):\(url.port)/1"]
                                           + (durable ? [] : ["--no-durable-tiles"]))
            defer { workers.signal(SIGTERM); _ = workers.wait() }
            try waitFor(seconds: 30) { (try store.connection.command(["HLEN", .text(JobKeys.workers)]).int ?? 0) >= ranks }
            Thread.sleep(forTimeInterval: 0.5)

            // One 24 MP job, warm-up first.
            for round in 0..<2 {
                let start = Date()
                let job = try JobSubmission(bytes: big, ops: "blur:3", tileSize: 256)
                let prepared = Date()
                try job.submit(to: store)
                let submitted = Date()
                let record = try waitDone(store, [job.id]).first!
                let total = Date().timeIntervalSince(start)
                guard round == 1 else { continue }
                totals[setup] = total
                let parts: [(String, Double)] = [
                    ("decode+cut", prepared.timeIntervalSince(start)),
                    ("submit to Redis", submitted.timeIntervalSince(prepared)),
                    ("ranks' Redis (claim, complete)", ms(record, "t_redis_ms")),
                    ("processing", ms(record, "t_process_ms")),
                    ("gather (MPI_Gatherv)", ms(record, "t_gather_ms")),
                    ("stitch", ms(record, "t_stitch_ms")),
                    ("encode", ms(record, "t_encode_ms")),
                ]
                let accounted = parts.reduce(0) { $0 + $1.1 }
                print(String(format: "%@: 24 MP job, enqueue to result %.2f s", setup, total))
                for (name, t) in parts + [("other (polling, dealing, finish)", max(0, total - accounted))] {
                    print("    " + name.padding(toLength: 34, withPad: " ", startingAt: 0)
                          + String(format: "%6.3f s  %4.1f%%", t, t / total * 100))
                }
                let overhead = parts[1].1 + parts[2].1 + parts[4].1
                print(String(format: "    Redis + MPI overhead: %.1f%% of the job", overhead / total * 100))
            }
            // The batch.
            let start = Date()
            var ids: [String] = []
            for bytes in small {
                let job = try JobSubmission(bytes: bytes, ops: "blur:3", tileSize: 256)
                try job.submit(to: store)
                ids.append(job.id)
            }
            _ = try waitDone(store, ids)
            let t = Date().timeIntervalSince(start)
            rates[setup] = Double(ids.count) / t
            print(String(format: "%@: 50 x 2 MP batch in %.2f s, %.1f images/s", setup, t, Double(ids.count) / t))
        }
        try heavy(url: url, store: store, big: big)
        for suffix in ["", ", --no-durable-tiles"] {
            print(String(format: "speed-up of 2 ranks over 1%@: %.2fx on the 24 MP job, %.2fx on the batch", suffix,
                         totals["1 rank(s)\(suffix)"]! / totals["2 rank(s)\(suffix)"]!,
                         rates["2 rank(s)\(suffix)"]! / rates["1 rank(s)\(suffix)"]!))
        }
    }

    /// A pipeline where processing dominates (median:3 on 24 MP), to show how ranks scale.
    static func heavy(url: RedisURL, store: TileStore, big: [UInt8]) throws {
        var times: [Int: Double] = [:]
        for ranks in [1, 2] {
            try store.connection.command(["FLUSHDB"])
            let imgproc = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
                .appendingPathComponent("imgproc").path
            let workers = try ChildProcess(imgproc, ["workers", "--np", String(ranks), "--redis", "redis://\(url.host):\(url.port)/1"])
            defer { workers.signal(SIGTERM); _ = workers.wait() }
            try waitFor(seconds: 30) { (try store.connection.command(["HLEN", .text(JobKeys.workers)]).int ?? 0) >= ranks }
            let start = Date()
            let job = try JobSubmission(bytes: big, ops: "median:3", tileSize: 256)
            try job.submit(to: store)
            let record = try waitDone(store, [job.id]).first!
            times[ranks] = Date().timeIntervalSince(start)
            print(String(format: "%d rank(s): 24 MP median:3, enqueue to result %.2f s (processing %.2f s)",
                         ranks, times[ranks]!, ms(record, "t_process_ms")))
        }
        print(String(format: "speed-up of 2 ranks over 1 on 24 MP median:3: %.2fx", times[1]! / times[2]!))
    }

    static func ms(_ record: JobRecord, _ field: String) -> Double { Double(record.int(field) ?? 0) / 1000 }

    static func waitDone(_ store: TileStore, _ ids: [String]) throws -> [JobRecord] {
        var records: [JobRecord] = []
        try waitFor(seconds: 600) {
            records = try ids.compactMap { try store.job($0) }
            return records.count == ids.count && records.allSatisfy { $0.status == .done || $0.status == .failed }
        }
        return records
    }

    static func waitFor(seconds: Double, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.005)
        }
        throw SupervisorError("timed out waiting for the workers")
    }
}
