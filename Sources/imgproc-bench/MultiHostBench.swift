import Foundation
import ImageCodecs
import ImageCore
import Jobs
import Supervision
import TileStore
import Worker

/// The workers on test hosts (network namespaces made by Tests/netns-hosts.sh):
/// a batch of 20 × 2 MP and one 24 MP JPEG, blur:3, on 3 hosts and on 1, and
/// the bytes that crossed the hosts' links per image (Redis and MPI). The
/// hosts share this machine's cores: this measures overhead, not speed-up.
enum MultiHostBench {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func run(image: Image) throws {
        guard getuid() == 0, (try? ChildProcess("ip", ["netns", "list"], output: "/dev/null").wait()) == .exited(0) else {
            print("\n(test-host figures left out: they need root and ip)")
            return
        }
        let script = root.appendingPathComponent("Tests/netns-hosts.sh").path
        _ = try ChildProcess(script, ["down", "3"], output: "/dev/null").wait()
        guard try ChildProcess(script, ["up", "3"], output: "/dev/null").wait() == .exited(0) else { return }
        defer { _ = try? ChildProcess(script, ["down", "3"], output: "/dev/null").wait() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imgproc-hosts-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = 16_000 + Int(getpid() % 1000)
        let pidFile = dir.appendingPathComponent("redis.pid").path
        _ = try ChildProcess("redis-server", ["--port", String(port), "--bind", "10.77.0.1", "--protected-mode", "no", "--save", "",
                                              "--appendonly", "no", "--dir", dir.path, "--pidfile", pidFile, "--daemonize", "yes"],
                             output: "/dev/null").wait()
        defer { if let pid = try? String(contentsOfFile: pidFile, encoding: .utf8) { kill(pid_t(pid.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, SIGTERM) } }
        let url = try RedisURL("redis://10.77.0.1:\(port)/0")
        try WorkerBench.waitFor(seconds: 10) { (try? TileStore.ping(url, timeout: 1)) != nil }
        let store = try TileStore(url: url)
        let big = try Codec.encode(image, as: .jpeg, quality: 90)
        let small = try (0..<20).map { k in
            try Codec.encode(image.cropped(to: Rect(x: (k * 211) % 4000, y: (k * 97) % 2800, width: 1732, height: 1155)), as: .jpeg, quality: 90)
        }
        let environment = ["OMPI_MCA_plm_rsh_agent": root.appendingPathComponent("Tests/netns-rsh.sh").path,
                           "OMPI_MCA_oob_tcp_if_include": "10.77.0.0/24", "OMPI_MCA_btl_tcp_if_include": "10.77.0.0/24",
                           "OMPI_MCA_btl": "tcp,self", "IMGPROC_LUA_DIR": root.appendingPathComponent("lua").path]
        let imgproc = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("imgproc").path
        print("\ntest hosts (network namespaces on this machine's 2 cores), blur:3 (24 MP in strips, 2 MP whole)")
        for hosts in [1, 3] {
            let hostfile = dir.appendingPathComponent("hosts-\(hosts)").path
            try (1...hosts).map { "10.77.0.1\($0) slots=1" }.joined(separator: "\n").write(toFile: hostfile, atomically: true, encoding: .utf8)
            try store.flushAll()
            let workers = try ChildProcess(imgproc, ["workers", "--np", String(hosts), "--hostfile", hostfile, "--redis", url.description],
                                           environment: environment, output: "/dev/null")
            defer { workers.signal(SIGTERM); _ = workers.wait() }
            try WorkerBench.waitFor(seconds: 60) { try store.heartbeats().count >= hosts }
            for (name, batch) in [("one 24 MP JPEG", [big]), ("20 x 2 MP JPEGs", small)] {
                let jobs = try batch.map { try JobSubmission(bytes: $0, ops: "blur:3") }
                let before = try traffic(store)
                let start = Date()
                for job in jobs { try job.submit(to: store) }
                let submitted = try traffic(store)
                _ = try WorkerBench.waitDone(store, jobs.map(\.id))
                let seconds = Date().timeIntervalSince(start)
                let after = try traffic(store)
                let links = Double(after.links - before.links) / Double(jobs.count) / 1e6
                let ranksRedis = Double((after.redis - submitted.redis)) / Double(jobs.count) / 1e6
                print(String(format: "%d host(s), %@: %.2f s; per image %.1f MB crossed the hosts' links (Redis %.1f MB, MPI and the rest %.1f MB)",
                             hosts, name, seconds, links, ranksRedis, max(0, links - ranksRedis)))
            }
        }
    }

    /// Bytes through the test hosts' links, and bytes Redis has received and sent.
    static func traffic(_ store: TileStore) throws -> (links: Int, redis: Int) {
        var links = 0
        for i in 1...3 {
            for counter in ["rx_bytes", "tx_bytes"] {
                let path = "/sys/class/net/imgproc-v\(i)/statistics/\(counter)"
                links += Int((try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "0") ?? 0
            }
        }
        let redis = try store.networkBytes()
        // The bridge-side ends of the hosts' links see every byte in or out of a host once.
        return (links, redis)
    }
}
