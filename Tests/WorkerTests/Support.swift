import Foundation
import ImageCodecs
import ImageCore
import TestSupport
import TileStore

let mpirunAvailable = (try? run(URL(fileURLWithPath: "/usr/bin/env"), ["mpirun", "--version"]).status) == 0

/// mpirun options tests need here: root, more ranks than cores, no core binding.
var mpirunOptions: [String] {
    (getuid() == 0 ? ["--allow-run-as-root"] : []) + ["--oversubscribe", "--bind-to", "none"]
}

/// A Redis database of a test's own on the shared server, emptied: each test
/// that runs workers has its own job queue.
func isolatedRedis(_ db: Int) throws -> (url: String, store: TileStore) {
    var url = try RedisURL(sharedRedisURL)
    url.database = db
    let store = try TileStore(url: url)
    try store.flushDatabase()
    return (url.full, store)
}

/// Writes `image` to `dir` as `name` and enqueues it with `imgproc enqueue`.
/// - Parameter tile: `N` or `strips:N`; nil lets imgproc choose (small images run whole).
func enqueue(_ image: Image, as format: ImageFormat, name: String, ops: String, tile: String?,
             redis: String, extra: [String] = [], dir: TemporaryDirectory) throws -> String {
    let path = dir.path(name)
    try Data(Codec.encode(image, as: format)).write(to: URL(fileURLWithPath: path))
    let r = try run(builtProduct("imgproc"), ["enqueue", path, "--ops", ops, "--redis", redis] + (tile.map { ["--tile", $0] } ?? [])
                    + extra)
    guard r.status == 0 else { throw TestServerError("enqueue failed: \(r.stderr)") }
    return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The reference result of `imgproc process` for a file written by ``enqueue``.
func reference(_ name: String, ops: String, format: ImageFormat, dir: TemporaryDirectory) throws -> [UInt8] {
    let out = dir.path("ref-\(name).\(format.fileExtension)")
    let r = try run(builtProduct("imgproc"), ["process", dir.path(name), out, "--ops", ops])
    guard r.status == 0 else { throw TestServerError("process failed: \(r.stderr)") }
    return [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
}

/// Runs `mpirun -np N imgproc-worker` until the queue has been empty for a second.
func runWorld(ranks: Int, redis: String, extra: [String] = [], environment: [String: String] = [:],
              dir: TemporaryDirectory) throws -> String {
    let log = dir.url.appendingPathComponent("world-\(ranks)-\(UUID().uuidString).log")
    let world = try Background("mpirun", mpirunOptions + ["-np", String(ranks)]
                               + environment.keys.sorted().flatMap { ["-x", $0] }
                               + [builtProduct("imgproc-worker").path, "--redis", redis, "--exit-when-idle", "1"] + extra,
                               environment: environment, log: log)
    guard let status = world.wait(seconds: 240) else {
        world.stop()
        throw TestServerError("the workers did not finish: \(world.output.suffix(2000))")
    }
    guard status == 0 else { throw TestServerError("mpirun exited with \(status): \(world.output.suffix(2000))") }
    return world.output
}

/// Polls the job until it is done or failed.
/// `imgproc workers --np 2` with more arguments, logging to the test's folder.
func startSupervisor(_ arguments: [String], environment: [String: String] = [:], dir: TemporaryDirectory) throws -> Background {
    try Background(builtProduct("imgproc").path, ["workers", "--np", "2"] + arguments, environment: environment,
                   log: dir.url.appendingPathComponent("supervisor.log"))
}

func waitForJob(_ store: TileStore, _ id: String, seconds: Double = 120) throws -> JobRecord {
    var job: JobRecord?
    try waitUntil(seconds: seconds) {
        // Errors are passing (Redis may be restarting); the next poll reconnects.
        job = (try? store.job(id)) ?? job
        return job?.status == .done || job?.status == .failed
    }
    return job!
}

/// Keys left in Redis for a job (finished jobs keep only job, done and result).
func keys(of id: String, _ store: TileStore) throws -> Set<String> {
    Set(try store.keys(ofJob: id).map { String($0.split(separator: ":").last!) })
}
