import Foundation
import ImageCodecs
import ImageCore
import TileStore
import Worker
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The system over HTTP: a 24 MP JPEG from upload to downloaded result with
/// blur:3 on 2 ranks, beside `vips gaussblur` (2 threads) on the same file;
/// and uploads per second of 2 MP JPEGs from 16 concurrent clients.
enum ServerBench {
    static func run(redis base: RedisURL, amqp: String, image: Image) throws {
        var redis = base
        redis.database = 2
        let store = try TileStore(url: redis)
        try store.connection.command(["FLUSHDB"])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imgproc-server-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binaries = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let port = 18_000 + Int(getpid() % 1000)
        let redisText = "redis://\(redis.host):\(redis.port)/2"
        let server = try ChildProcess(binaries.appendingPathComponent("imgproc-server").path,
                                      ["--port", String(port), "--host", "127.0.0.1", "--redis", redisText, "--amqp", amqp,
                                       "--uploads", dir.appendingPathComponent("u").path, "--processed", dir.appendingPathComponent("p").path])
        let workers = try ChildProcess(binaries.appendingPathComponent("imgproc").path, ["workers", "--np", "2", "--redis", redisText],
                                       environment: ["AMQP_URL": amqp])
        defer {
            workers.signal(SIGTERM); _ = workers.wait()
            server.signal(SIGTERM); _ = server.wait()
        }
        let base = "http://127.0.0.1:\(port)"
        try WorkerBench.waitFor(seconds: 30) { (try? request(base + "/healthz").0) == 200 }
        try WorkerBench.waitFor(seconds: 30) { (try store.connection.command(["HLEN", .text(JobKeys.workers)]).int ?? 0) >= 2 }

        let big = try Codec.encode(image, as: .jpeg, quality: 90)
        let bigPath = dir.appendingPathComponent("big.jpg").path
        try Data(big).write(to: URL(fileURLWithPath: bigPath))
        print("\nserver (HTTP, 2 ranks, Redis db 2): 24 MP JPEG (\(big.count / 1_000_000) MB), blur:3")
        var best = Double.infinity
        for _ in 0..<3 {
            let start = Date()
            let (status, body) = try request(base + "/api/jobs?ops=blur:3", method: "POST", body: Data(big), type: "image/jpeg")
            guard status == 202, let id = ((try JSONSerialization.jsonObject(with: body) as? [String: Any])?["jobs"] as? [[String: Any]])?
                .first?["id"] as? String else { throw SupervisorError("upload refused: \(status)") }
            try WorkerBench.waitFor(seconds: 120) {
                let (_, b) = try request(base + "/api/jobs/\(id)")
                let status = (try JSONSerialization.jsonObject(with: b) as? [String: Any])?["status"] as? String
                return status == "done" || status == "failed"
            }
            let (code, result) = try request(base + "/api/jobs/\(id)/result")
            guard code == 200, !result.isEmpty else { throw SupervisorError("no result") }
            best = min(best, Date().timeIntervalSince(start))
        }
        let vips = vipsSeconds(bigPath, out: dir.appendingPathComponent("vips.jpg").path)
        print(String(format: "upload to downloaded result: %.2f s (best of 3)", best))
        if let vips {
            print(String(format: "vips gaussblur 3 (VIPS_CONCURRENCY=2), file to file: %.2f s; imgproc/vips time ratio %.2f", vips, best / vips))
        } else {
            print("(vips figure left out: the vips command is not installed; make deps installs libvips-tools)")
        }

        // Uploads per second, 16 clients, 2 MP JPEGs, for 10 s.
        let small = try Codec.encode(image.cropped(to: Rect(x: 0, y: 0, width: 1732, height: 1155)), as: .jpeg, quality: 90)
        let counts = Counts()
        let deadline = Date().addingTimeInterval(10)
        let group = DispatchGroup()
        for _ in 0..<16 {
            group.enter()
            Thread {
                while Date() < deadline {
                    let status = (try? request(base + "/api/jobs?ops=blur:3", method: "POST", body: Data(small), type: "image/jpeg").0) ?? 0
                    counts.add(ok: status == 202)
                }
                group.leave()
            }.start()
        }
        group.wait()
        let (ok, failed) = counts.values
        print(String(format: "uploads of 2 MP JPEGs, 16 concurrent clients, 10 s: %.1f uploads/s, %d errors", Double(ok) / 10, failed))
    }

    final class Counts: @unchecked Sendable {
        // @unchecked: guarded by `lock`.
        private let lock = NSLock()
        private var ok = 0, failed = 0
        func add(ok success: Bool) { lock.withLock { if success { ok += 1 } else { failed += 1 } } }
        var values: (Int, Int) { lock.withLock { (ok, failed) } }
    }

    static func vipsSeconds(_ input: String, out: String) -> Double? {
        let start = Date()
        guard let vips = try? ChildProcess("vips", ["gaussblur", input, out, "3"], environment: ["VIPS_CONCURRENCY": "2"]),
              vips.wait() == .exited(0) else { return nil }
        return Date().timeIntervalSince(start)
    }

    /// A blocking HTTP request.
    static func request(_ url: String, method: String = "GET", body: Data? = nil, type: String? = nil) throws -> (Int, Data) {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: 120)
        request.httpMethod = method
        request.httpBody = body
        if let type { request.setValue(type, forHTTPHeaderField: "Content-Type") }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, Data) = (0, Data())
        URLSession.shared.dataTask(with: request) { data, response, _ in
            result = ((response as? HTTPURLResponse)?.statusCode ?? 0, data ?? Data())
            done.signal()
        }.resume()
        done.wait()
        return result
    }
}
