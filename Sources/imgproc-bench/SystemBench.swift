import Foundation
import ImageCodecs
import ImageCore
import Supervision
import TileStore
import Worker

/// The whole system over HTTP, as `make run` starts it: imgproc-server and
/// `imgproc workers --np 2`, on a Redis database of its own and RabbitMQ.
enum SystemBench {
    /// A running server and workers.
    struct System: @unchecked Sendable {
        // @unchecked: client threads use only `port` and `job`, which touches the connection it is given;
        // the store is used by the main thread alone.
        let server: ChildProcess
        let workers: ChildProcess
        let port: Int
        let store: TileStore
        let dir: URL
        let amqpPort: Int

        init(redis base: RedisURL, db: Int, amqp: String, ranks: Int = 2) throws {
            var redis = base
            redis.database = db
            store = try TileStore(url: redis)
            try store.flushDatabase()
            amqpPort = URLComponents(string: amqp)?.port ?? 5672
            dir = FileManager.default.temporaryDirectory.appendingPathComponent("imgproc-system-bench-\(getpid())-\(db)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let binaries = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            port = 18_000 + Int(getpid() % 1000) + db
            let redisText = redis.full
            server = try ChildProcess(binaries.appendingPathComponent("imgproc-server").path,
                                      ["--port", String(port), "--host", "127.0.0.1", "--redis", redisText, "--amqp", amqp,
                                       "--uploads", dir.appendingPathComponent("u").path, "--processed", dir.appendingPathComponent("p").path],
                                      output: dir.appendingPathComponent("server.log").path)
            // The children must not outlive a bench that could not start them all.
            func stopping(_ children: [ChildProcess], after error: any Error) -> any Error {
                for child in children { child.signal(SIGTERM); _ = child.wait() }
                return error
            }
            do {
                workers = try ChildProcess(binaries.appendingPathComponent("imgproc").path, ["workers", "--np", String(ranks), "--redis", redisText],
                                           environment: ["AMQP_URL": amqp], output: dir.appendingPathComponent("workers.log").path)
            } catch {
                throw stopping([server], after: error)
            }
            let port = self.port, store = self.store
            do {
                try WorkerBench.waitFor(seconds: 30) { (try? HTTPConnection(port: port).request("GET", "/healthz").status) == 200 }
                try WorkerBench.waitFor(seconds: 30) { try store.heartbeats().count >= ranks }
            } catch {
                throw stopping([workers, server], after: error)
            }
            Thread.sleep(forTimeInterval: 0.5)
        }

        func stop() {
            workers.signal(SIGTERM); _ = workers.wait()
            server.signal(SIGTERM); _ = server.wait()
            try? FileManager.default.removeItem(at: dir)
        }

        /// Upload, follow the job's events to its end, download: one job as a client sees it.
        /// - Returns: the result's size, or nil when something failed.
        func job(_ connection: HTTPConnection, _ bytes: [UInt8], ops: String, type: String = "image/jpeg",
                 query: String = "") throws -> Int? {
            // Repeated uploads of the same bytes would be answered from the first job's result.
            // A failure is told on stderr, so that a figure with errors can be explained.
            func failed(_ why: String) -> Int? {
                FileHandle.standardError.write(Data("job failed: \(why)\n".utf8))
                return nil
            }
            let (status, body) = try connection.request("POST", "/api/jobs?ops=\(ops)&dedupe=false\(query)", body: bytes, contentType: type)
            guard status == 202, let id = ((try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["jobs"]
                as? [[String: Any]])?.first?["id"] as? String else {
                return failed("upload answered \(status): \(String(decoding: body.prefix(300), as: UTF8.self))")
            }
            let events = try connection.request("GET", "/api/jobs/\(id)/events")
            let text = String(decoding: events.body, as: UTF8.self)
            guard text.contains("event: done") else { return failed("job \(id) events: \(text.suffix(300))") }
            let result = try connection.request("GET", "/api/jobs/\(id)/result")
            guard result.status == 200 && !result.body.isEmpty else { return failed("job \(id) result answered \(result.status)") }
            return result.body.count
        }

        /// Bytes Redis has received and sent so far.
        func redisBytes() throws -> Int {
            try store.networkBytes()
        }

        /// The pids of the ranks, from their heartbeats.
        func rankPIDs() throws -> [Int: pid_t] {
            Dictionary(try store.heartbeats().values.map { ($0.rank, $0.pid) }) { a, _ in a }
        }
    }

    static func run(redis: RedisURL, amqp: String, image: Image) throws {
        let system = try System(redis: redis, db: 2, amqp: amqp)
        defer { system.stop() }
        let connection = try HTTPConnection(port: system.port)

        // One large image.
        let big = try Codec.encode(image, as: .jpeg, quality: 90)
        let bigPath = system.dir.appendingPathComponent("big.jpg").path
        try Data(big).write(to: URL(fileURLWithPath: bigPath))
        print("\nsystem over HTTP (imgproc-server, 2 ranks, Redis db 2): 24 MP JPEG (\(String(format: "%.1f", Double(big.count) / 1e6)) MB), blur:3")
        var best = Double.infinity
        var traffic = 0
        for _ in 0..<3 {
            let before = try system.redisBytes()
            let start = Date()
            guard try system.job(connection, big, ops: "blur:3") != nil else { throw BenchError(.jobFailed, "the 24 MP job failed") }
            best = min(best, Date().timeIntervalSince(start))
            traffic = try system.redisBytes() - before
        }
        let vips = vipsSeconds(bigPath, out: system.dir.appendingPathComponent("vips.jpg").path)
        print(String(format: "upload to downloaded result: %.3f s (best of 3)", best))
        if let vips {
            print(String(format: "vips gaussblur 3 (VIPS_CONCURRENCY=2), file to file: %.3f s; imgproc/vips time ratio %.2f", vips, best / vips))
        } else {
            print("(vips figure left out: the vips command is not installed; make deps installs libvips-tools)")
        }
        print(String(format: "bytes through Redis for that job (INFO stats, in + out): %.1f MB, %.1fx the file",
                     Double(traffic) / 1e6, Double(traffic) / Double(big.count)))

        try thumbnail(system, big, path: bigPath, connection: connection)
        try pngOutput(system, big, path: bigPath)
        try smallImages(system, image: image)
        try smallImagesOnACluster(amqp: amqp, image: image)
        try halo(system)
        try HostileBench.run(system, image: image)
        try memory(redis: redis, amqp: amqp)
    }

    /// 2 MP JPEGs resized to 512x288: one client, then 8, each job uploaded,
    /// followed to its end and downloaded, beside two OpenCV processes.
    static func smallImages(_ system: System, image: Image) throws {
        let small = try Codec.encode(image.cropped(to: Rect(x: 0, y: 0, width: 1732, height: 1155)), as: .jpeg, quality: 90)
        let path = system.dir.appendingPathComponent("small.jpg").path
        try Data(small).write(to: URL(fileURLWithPath: path))
        let ops = "resize:512x288"
        print("\nsmall images over HTTP: 2 MP JPEG (\(small.count / 1000) KB), \(ops); upload, follow events to the end, download")
        let connection = try HTTPConnection(port: system.port)
        for _ in 0..<5 { _ = try system.job(connection, small, ops: ops) }
        var times: [Double] = []
        for _ in 0..<60 {
            let start = Date()
            guard try system.job(connection, small, ops: ops) != nil else { throw BenchError(.jobFailed, "a small job failed") }
            times.append(Date().timeIntervalSince(start) * 1000)
        }
        times.sort()
        print(String(format: "1 client: median %.1f ms per job (90th percentile %.1f ms)", times[times.count / 2], times[times.count * 9 / 10]))

        let seconds = 10.0
        let counts = Counts()
        let usage = try Usage(system)
        let deadline = Date().addingTimeInterval(seconds)
        let group = DispatchGroup()
        let port = system.port
        for _ in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                guard var connection = try? HTTPConnection(port: port) else { counts.add(ok: false); return }
                while Date() < deadline {
                    do {
                        counts.add(ok: try system.job(connection, small, ops: ops) != nil)
                    } catch {
                        FileHandle.standardError.write(Data("job failed: \(error)\n".utf8))
                        counts.add(ok: false)
                        guard let fresh = try? HTTPConnection(port: port) else { return }
                        connection = fresh
                    }
                }
            }.start()
        }
        group.wait()
        let (ok, failed) = counts.values
        let rate = Double(ok) / seconds
        print(String(format: "8 concurrent clients, %.0f s: %.1f jobs/s, %d errors", seconds, rate, failed))
        try usage.report(system, jobs: ok)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("opencv_small.py").path
        if let opencv = python(script, [path, "512", "288", "5"]).flatMap(Double.init) {
            print(String(format: "two OpenCV processes (cv2.setNumThreads(1)), decode + resize + encode in memory: %.1f images/s; imgproc/OpenCV rate %.2f",
                         opencv, rate / opencv))
        } else {
            print("(OpenCV figure left out: python3 with cv2 not found; run make deps)")
        }
    }

    /// The small jobs again with Redis Cluster (`IMGPROC_TEST_REDIS_CLUSTER`,
    /// which make bench's services start: three masters on this machine).
    static func smallImagesOnACluster(amqp: String, image: Image) throws {
        guard let text = ProcessInfo.processInfo.environment["IMGPROC_TEST_REDIS_CLUSTER"], !text.isEmpty else { return }
        print("\nthe same on a Redis Cluster of three masters (\(text)); Redis CPU and bytes summed over them:", terminator: "")
        try alone(redis: try RedisURL(text), amqp: amqp, image: image) { system, _, _ in try smallImages(system, image: image) }
    }

    /// A 1000x1000 gray PNG, blur:100 in 16-pixel tiles: every tile's halo is
    /// 616 pixels wide, but only descriptors go into Redis.
    static func halo(_ system: System) throws {
        var state: UInt32 = 7
        let gray = Image(width: 1000, height: 1000, channels: 1) { p in
            for i in 0..<1_000_000 { state ^= state << 13; state ^= state >> 17; state ^= state << 5; p[i] = UInt8(truncatingIfNeeded: state) }
        }
        let png = try Codec.encode(gray, as: .png)
        let used = { (try? system.store.info("memory", "used_memory")) ?? 0 }
        let before = used()
        let peak = Locked(0)
        let sampling = Locked(true)
        let sampler = Thread {
            guard let store = try? TileStore(url: system.store.url) else { return }
            while sampling.with({ $0 }) {
                let now = (try? store.info("memory", "used_memory")) ?? 0
                peak.with { $0 = max($0, now) }
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        sampler.start()
        let start = Date()
        let connection = try HTTPConnection(port: system.port)
        let ok = try system.job(connection, png, ops: "blur:100", type: "image/png", query: "&tile=16") != nil
        sampling.with { $0 = false }
        Thread.sleep(forTimeInterval: 0.05)
        print(String(format: "\nhalo: 1000x1000 PNG (%d KB), blur:100 in 16-px tiles (3969 tiles, 616x616 halos): %@ in %.2f s; Redis memory grew by at most %.1f MB",
                     png.count / 1000, ok ? "done" : "FAILED", Date().timeIntervalSince(start), Double(max(0, peak.with { $0 } - before)) / 1e6))
    }

    /// Peak memory of the server and of each rank over a 96 MP JPEG, blur:3,
    /// with fresh processes (peak resident memory is kept for a process's life),
    /// on 1, 2 and 3 ranks: how a rank's memory changes with its share of the
    /// image; then a two-stage clahe pipeline on 2 ranks.
    static func memory(redis: RedisURL, amqp: String) throws {
        let huge = try Codec.encode(benchImage(width: 12000, height: 8000), as: .jpeg, quality: 90)
        let raw = Double(12000 * 8000 * 3) / 1e6
        let file = Double(huge.count) / 1e6
        // clahe's second stage is made again on each rank from its own rows.
        for (ops, ranks) in [("blur:3", 1), ("blur:3", 2), ("blur:3", 3), ("clahe:2:8,blur:1", 2)] {
            let system = try System(redis: redis, db: 4, amqp: amqp, ranks: ranks)
            defer { system.stop() }
            let connection = try HTTPConnection(port: system.port)
            let start = Date()
            let ok = try system.job(connection, huge, ops: ops) != nil
            let seconds = Date().timeIntervalSince(start)
            print(String(format: "\nmemory: 96 MP JPEG (12000x8000, %.1f MB file, %.0f MB raw), %@ on %d rank%@: %@ in %.2f s",
                         file, raw, ops, ranks, ranks == 1 ? "" : "s", ok ? "done" : "FAILED", seconds))
            let server = Double(peakRSS(system.server.pid)) / 1e6
            print(String(format: "server peak RSS %.0f MB (limit 2 x file + 150 = %.0f MB)", server, 2 * file + 150))
            for (rank, pid) in try system.rankPIDs().sorted(by: { $0.key < $1.key }) {
                let peak = Double(peakRSS(pid)) / 1e6
                print(String(format: "rank %d peak RSS %.0f MB, %.2fx the raw image, %.2fx its 1/%d share (limit 1.5x raw = %.0f MB)",
                             rank, peak, peak / raw, peak / (raw / Double(ranks)), ranks, 1.5 * raw))
            }
        }
    }

    /// What a run of jobs cost each part, for the sizing in README ("Scaling
    /// out"): CPU of the server, the ranks and Redis, and bytes through Redis
    /// and RabbitMQ (the TCP counters of every connection to its port) and MPI
    /// (what the ranks' heartbeats report, every 2 s).
    struct Usage {
        let server: Double, ranks: Double, redis: Double, redisBytes: Int, amqpBytes: Int?, mpiBytes: Int

        init(_ system: System) throws {
            server = Self.cpuSeconds(system.server.pid)
            ranks = try system.rankPIDs().values.map(Self.cpuSeconds).reduce(0, +)
            redis = try Self.redisCPU(system.store)
            redisBytes = try system.redisBytes()
            amqpBytes = Self.amqpBytes(system.amqpPort)
            mpiBytes = try system.store.heartbeats().values.reduce(0) { $0 + $1.mpiBytes }
        }

        func report(_ system: System, jobs: Int) throws {
            guard jobs > 0 else { return }
            Thread.sleep(forTimeInterval: 2.5)   // a heartbeat with the last MPI count
            let now = try Usage(system), n = Double(jobs)
            print(String(format: "per job (sizing): CPU server %.1f ms, ranks %.1f ms, Redis %.1f ms; through Redis %.0f KB",
                         (now.server - server) * 1000 / n, (now.ranks - ranks) * 1000 / n, (now.redis - redis) * 1000 / n,
                         Double(now.redisBytes - redisBytes) / 1000 / n), terminator: "")
            if let before = amqpBytes, let after = now.amqpBytes {
                print(String(format: ", through RabbitMQ %.0f bytes", Double(after - before) / n), terminator: "")
            }
            print(String(format: ", through MPI %.0f bytes", Double(now.mpiBytes - mpiBytes) / n))
        }

        /// User + system CPU seconds of a process, all its threads.
        static func cpuSeconds(_ pid: pid_t) -> Double {
            let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            // Fields after the command name (which may hold spaces): utime is the 12th, stime the 13th.
            guard let close = stat.lastIndex(of: ")") else { return 0 }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
            return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }

        /// CPU seconds of Redis, of every master on a cluster.
        static func redisCPU(_ store: TileStore) throws -> Double {
            try store.infoOfEveryMaster("cpu").reduce(0) {
                $0 + (Double($1["used_cpu_user"] ?? "") ?? 0) + (Double($1["used_cpu_sys"] ?? "") ?? 0)
            }
        }

        /// Bytes sent and received on every TCP connection to RabbitMQ's port
        /// (`ss -ti`), nil without `ss`.
        static func amqpBytes(_ port: Int) -> Int? {
            guard let text = SystemBench.output("/usr/bin/env", ["ss", "-tinH", "state", "established", "( dport = :\(port) )"]) else { return nil }
            var total = 0
            for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
                for key in ["bytes_sent:", "bytes_received:"] where word.hasPrefix(key) { total += Int(word.dropFirst(key.count)) ?? 0 }
            }
            return total
        }
    }

    static func peakRSS(_ pid: pid_t) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    final class Counts: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        private let lock = NSLock()
        private var ok = 0, failed = 0
        func add(ok success: Bool) { lock.withLock { if success { ok += 1 } else { failed += 1 } } }
        var values: (Int, Int) { lock.withLock { (ok, failed) } }
    }

    /// One part of --system alone (`imgproc-bench --thumbnail`, `--small`, `--png`):
    /// a fresh system, and the 24 MP JPEG written to its folder.
    static func alone(redis: RedisURL, amqp: String, image: Image,
                      _ part: (System, _ big: [UInt8], _ path: String) throws -> Void) throws {
        let system = try System(redis: redis, db: 2, amqp: amqp)
        defer { system.stop() }
        let big = try Codec.encode(image, as: .jpeg, quality: 90)
        let path = system.dir.appendingPathComponent("big.jpg").path
        try Data(big).write(to: URL(fileURLWithPath: path))
        try part(system, big, path)
    }

    /// The 24 MP JPEG as imgproc writes it (a restart marker per MCU row, so
    /// the rank decodes it in two bands at once), then as Pillow writes it
    /// (none: one decoder); and that one inverted in strips on both ranks.
    static func thumbnail(_ system: System, _ big: [UInt8], path: String, connection: HTTPConnection) throws {
        try thumbnailLine(system, big, path: path, label: "the 24 MP JPEG", connection: connection)
        let plain = system.dir.appendingPathComponent("pillow.jpg").path
        let script = "import sys; from PIL import Image; Image.open(sys.argv[1]).save(sys.argv[2], quality=90); print('ok')"
        if python("-c", [script, path, plain]) == "ok", let bytes = FileManager.default.contents(atPath: plain) {
            try thumbnailLine(system, [UInt8](bytes), path: plain, label: "the same written by Pillow (no restart markers)",
                              connection: connection)
            try tiledWithoutRestarts(system, [UInt8](bytes), connection: connection)
        }
    }

    /// A JPEG without restart markers, inverted in strips on 2 ranks: a rank
    /// reaches its band by skipping the rows above, and its decoder only moves
    /// down from there, so the ranks share the strips and read the file once each.
    static func tiledWithoutRestarts(_ system: System, _ plain: [UInt8], connection: HTTPConnection) throws {
        var best = Double.infinity
        for _ in 0..<3 {
            let start = Date()
            guard try system.job(connection, plain, ops: "invert") != nil else { throw BenchError(.jobFailed, "the invert job failed") }
            best = min(best, Date().timeIntervalSince(start))
        }
        guard let id = try system.store.recentJobs(limit: 1).first, let job = try system.store.job(id) else { return }
        var perRank: [Int: Int] = [:]
        for rank in try system.store.tileRanks(id, completed: true).values { perRank[rank, default: 0] += 1 }
        let split = perRank.keys.sorted().map { "rank \($0): \(perRank[$0]!)" }.joined(separator: ", ")
        print(String(format: "invert of that JPEG in strips on 2 ranks, upload to downloaded result: %.3f s (best of 3); last job: %d strips (%@), t_total %d ms, most rows one rank's decoders read %d of %d",
                     best, job.tilesTotal, split, job.int("t_total_ms") ?? 0, job.rowsRead ?? 0, job.int("height") ?? 0))
    }

    static func thumbnailLine(_ system: System, _ big: [UInt8], path: String, label: String, connection: HTTPConnection) throws {
        var best = Double.infinity
        for _ in 0..<3 {
            let start = Date()
            guard try system.job(connection, big, ops: "fit:512x512") != nil else { throw BenchError(.jobFailed, "the thumbnail job failed") }
            best = min(best, Date().timeIntervalSince(start))
        }
        let out = system.dir.appendingPathComponent("thumb.jpg").path
        print(String(format: "\nthumbnail fit:512x512 of %@, upload to downloaded result: %.3f s (best of 3)", label, best))
        if let vips = vipsSeconds(path, out: out, command: "vipsthumbnail", [path, "-s", "512", "-o", out]) {
            print(String(format: "vipsthumbnail -s 512 (VIPS_CONCURRENCY=2), file to file: %.3f s; imgproc/vips time ratio %.2f", vips, best / vips))
        }
    }

    /// PNG output of the 24 MP JPEG, invert: `imgproc process` beside `vips
    /// invert` and Pillow's default `save`, then through the system on 2 ranks,
    /// PNG output beside JPEG output.
    static func pngOutput(_ system: System, _ big: [UInt8], path: String) throws {
        print("\npng output: the 24 MP JPEG, invert, written as PNG")
        let binaries = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let ours = system.dir.appendingPathComponent("ours.png").path
        var best = Double.infinity
        for _ in 0..<3 {
            let start = Date()
            let process = try ChildProcess(binaries.appendingPathComponent("imgproc").path, ["process", path, ours, "--ops", "invert"],
                                           output: "/dev/null")
            guard process.wait() == .exited(0) else { throw BenchError(.jobFailed, "imgproc process to PNG failed") }
            best = min(best, Date().timeIntervalSince(start))
        }
        let size = Double(fileSize(ours)) / 1e6
        print(String(format: "imgproc process (PNG segments on every core), file to file: %.3f s, %.1f MB", best, size))
        let vipsOut = system.dir.appendingPathComponent("vips.png").path
        if let vips = vipsSeconds(path, out: vipsOut, ["invert", path, vipsOut]) {
            print(String(format: "vips invert in.jpg out.png (VIPS_CONCURRENCY=2): %.3f s, %.1f MB; imgproc/vips time ratio %.2f",
                         vips, Double(fileSize(vipsOut)) / 1e6, best / vips))
        }
        let pillowOut = system.dir.appendingPathComponent("pillow.png").path
        let script = "import sys, time; from PIL import Image, ImageOps; t = time.time(); "
            + "ImageOps.invert(Image.open(sys.argv[1]).convert('RGB')).save(sys.argv[2]); print(time.time() - t)"
        if let text = python("-c", [script, path, pillowOut]), let seconds = Double(text) {
            let pillow = Double(fileSize(pillowOut)) / 1e6
            print(String(format: "Pillow invert + default save: %.3f s, %.1f MB; imgproc/Pillow size ratio %.3f", seconds, pillow, size / pillow))
        }
        // A fresh connection: the server closes one left idle while the peers ran.
        let connection = try HTTPConnection(port: system.port)
        var times: [String: Double] = [:]
        for format in ["jpeg", "png"] {
            var fastest = Double.infinity
            for _ in 0..<3 {
                let start = Date()
                guard try system.job(connection, big, ops: "invert", query: "&format=\(format)") != nil else {
                    throw BenchError(.jobFailed, "the \(format) job failed")
                }
                fastest = min(fastest, Date().timeIntervalSince(start))
            }
            times[format] = fastest
        }
        print(String(format: "through the system, 2 ranks, upload to downloaded result: PNG output %.3f s, JPEG output %.3f s; PNG/JPEG time ratio %.2f",
                     times["png"]!, times["jpeg"]!, times["png"]! / times["jpeg"]!))
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// Best of 3 of a vips command: `arguments` is its whole command line (by default, gaussblur of `input` to `out`).
    static func vipsSeconds(_ input: String, out: String, command: String = "vips", _ arguments: [String]? = nil) -> Double? {
        var best: Double?
        for _ in 0..<3 {
            let start = Date()
            guard let vips = try? ChildProcess(command, arguments ?? ["gaussblur", input, out, "3"],
                                               environment: ["VIPS_CONCURRENCY": "2"], output: "/dev/null"),
                  vips.wait() == .exited(0) else { return nil }
            best = min(best ?? .infinity, Date().timeIntervalSince(start))
        }
        return best
    }

    /// A Python helper's output, or nil when it cannot run.
    static func python(_ script: String, _ arguments: [String]) -> String? {
        output("/usr/bin/env", ["python3", script] + arguments)
    }

    /// What a command prints, trimmed; nil when it cannot run or fails.
    static func output(_ path: String, _ arguments: [String]) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A lock-protected value.
final class Locked<T>: @unchecked Sendable {
    // @unchecked: every access goes through the lock.
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func with<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&value) } }
}
