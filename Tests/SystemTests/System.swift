import Foundation
import ImageCodecs
import ImageCore
import TestSupport
import TileStore

let systemAvailable = sharedAMQPURL != nil && mpirunOK
let mpirunOK = (try? run(URL(fileURLWithPath: "/usr/bin/env"), ["mpirun", "--version"]).status) == 0

/// The whole system for one test: imgproc-server and the supervised workers,
/// on a Redis database of their own, a RabbitMQ, and folders of their own.
final class System: @unchecked Sendable {
    // @unchecked: fields are set once (the server is replaced only by the test's own thread).
    let dir: TemporaryDirectory
    let redis: String
    let amqp: String
    let port: Int
    let store: TileStore
    var server: Background
    let workers: Background
    let serverArguments: [String]

    /// - Parameter workers: start the workers too (off: the test plays their part in Redis).
    init(db: Int, amqp: String? = nil, workers startWorkers: Bool = true, workerEnvironment: [String: String] = [:],
         serverArguments extra: [String] = []) throws {
        dir = try TemporaryDirectory()
        var url = try RedisURL(sharedRedisURL)
        url.database = db
        redis = url.full
        self.amqp = amqp ?? sharedAMQPURL!
        store = try TileStore(url: url)
        try store.flushDatabase()
        // A port found free may be taken (by any outgoing connection) before the
        // server binds it: then the server exits, and it is started on another.
        var started: (port: Int, arguments: [String], server: Background)?
        for _ in 0..<3 where started == nil || started!.server.wait(seconds: 0) != nil {
            let port = freePort()
            let arguments = ["--port", String(port), "--host", "127.0.0.1", "--redis", redis, "--amqp", amqp ?? sharedAMQPURL!,
                             "--uploads", dir.path("uploaded"), "--processed", dir.path("processed")] + extra
            let server = try Background(builtProduct("imgproc-server").path, arguments,
                                        log: dir.url.appendingPathComponent("server.log"))
            try waitUntil(seconds: 60) { server.wait(seconds: 0) != nil || canConnect(port: port) }
            started = (port, arguments, server)
        }
        (port, serverArguments, server) = (started!.port, started!.arguments, started!.server)
        workers = try Background(startWorkers ? builtProduct("imgproc").path : "/bin/sleep",
                                 startWorkers ? ["workers", "--np", "2", "--redis", redis] : ["3600"],
                                 environment: workerEnvironment.merging(["AMQP_URL": self.amqp]) { $1 },
                                 log: dir.url.appendingPathComponent("workers.log"))
        let server = self.server
        do {
            try waitUntil(seconds: 60) { (try? self.get("/healthz").status) == 200 }
        } catch {
            throw TestServerError("the server never answered /healthz with 200: \(server.output.suffix(2000))")
        }
    }

    func restartServer() throws {
        server = try Background(builtProduct("imgproc-server").path, serverArguments,
                                log: dir.url.appendingPathComponent("server-2.log"))
        try waitUntil(seconds: 60) { (try? self.get("/healthz").status) == 200 }
    }

    deinit {
        server.stop()
        workers.stop()
        dir.remove()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// curl, for requests as users make them.
    func curl(_ arguments: [String]) throws -> (status: Int, body: Data) {
        let out = dir.path("curl-\(UUID().uuidString)")
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"),
                        ["curl", "-s", "-o", out, "-w", "%{http_code}", "--max-time", "120"] + arguments)
        let body = (try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data()
        try? FileManager.default.removeItem(atPath: out)
        return (Int(r.stdout) ?? 0, body)
    }

    func get(_ path: String) throws -> (status: Int, body: Data) { try curl([base + path]) }

    func json(_ path: String) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: try get(path).body) as? [String: Any]) ?? [:]
    }

    /// Waits until the job is done or failed, as the API reports it.
    func waitFor(_ id: String, seconds: Double = 180) throws -> [String: Any] {
        var job: [String: Any] = [:]
        try waitUntil(seconds: seconds) {
            job = (try? self.json("/api/jobs/\(id)")) ?? job
            return ["done", "failed"].contains(job["status"] as? String ?? "")
        }
        return job
    }

    var logs: String {
        ((try? String(contentsOf: dir.url.appendingPathComponent("server.log"), encoding: .utf8)) ?? "").suffix(1500)
            + "\n" + ((try? String(contentsOf: dir.url.appendingPathComponent("workers.log"), encoding: .utf8)) ?? "").suffix(1500)
    }
}

/// What Pillow, a reader independent of ours, finds in an image file: whether
/// its ICC profile equals the file `profile`, its EXIF orientation (0 for
/// none) and whether a GPS block is there.
func pillowMetadata(_ path: String, profile: String) throws -> (sameProfile: Bool, orientation: Int, gps: Bool) {
    let script = """
        import sys
        from PIL import Image
        im = Image.open(sys.argv[1]); ex = im.getexif()
        print(im.info.get("icc_profile") == open(sys.argv[2], "rb").read(), ex.get(274, 0), 0x8825 in ex)
        """
    let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, path, profile])
    let words = r.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    guard r.status == 0, words.count == 3 else { throw TestServerError("Pillow could not read \(path): \(r.stderr)") }
    return (words[0] == "True", Int(words[1]) ?? -1, words[2] == "True")
}

/// `imgproc process` of a file, as the reference result.
func reference(_ path: String, ops: String, ext: String, dir: TemporaryDirectory, _ extra: [String] = []) throws -> Data {
    let out = dir.path("ref-\(UUID().uuidString).\(ext)")
    let r = try run(builtProduct("imgproc"), ["process", path, out, "--ops", ops] + extra)
    guard r.status == 0 else { throw TestServerError("process failed: \(r.stderr)") }
    return try Data(contentsOf: URL(fileURLWithPath: out))
}

func writeImage(_ image: Image, _ format: ImageFormat, to path: String) throws {
    try Data(Codec.encode(image, as: format)).write(to: URL(fileURLWithPath: path))
}

/// The ids of a 202 reply.
func jobIDs(_ body: Data) -> [String] {
    let json = (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
    return (json["jobs"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
}
