import Foundation
import ImageCodecs
import ImageCore
import TileStore

/// The server and Redis before and after a hostile mix: the probes the limits
/// answer (a huge halo, 200 files in one request, a pipeline too costly, a
/// huge output, a decompression bomb, a JPEG of 900 scans, damaged files,
/// event streams that leave) and 100 normal jobs, which must all end done.
enum HostileBench {
    static func run(_ system: SystemBench.System, image: Image) throws {
        let connection = try HTTPConnection(port: system.port)
        func rss() -> Int {
            let status = (try? String(contentsOfFile: "/proc/\(system.server.pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        func redisMemory() throws -> Int {
            try system.store.info("memory", "used_memory")
        }
        let normal = try Codec.encode(image.cropped(to: Rect(x: 1000, y: 1000, width: 800, height: 600)), as: .jpeg, quality: 90)
        // Warm up, so the figures before are those of a server that has worked.
        for _ in 0..<5 { _ = try system.job(connection, normal, ops: "blur:2") }
        Thread.sleep(forTimeInterval: 1)
        let (rssBefore, redisBefore) = (rss(), try redisMemory())

        var probes: [(String, Int)] = []
        func post(_ name: String, _ body: [UInt8], query: String, type: String = "image/png") throws {
            probes.append((name, try connection.request("POST", "/api/jobs\(query)", body: body, contentType: type).status))
        }
        var state: UInt32 = 5
        let noise = Image(width: 1000, height: 1000, channels: 1) { p in
            for i in 0..<1_000_000 { state ^= state << 13; state ^= state >> 17; state ^= state << 5; p[i] = UInt8(truncatingIfNeeded: state) }
        }
        try post("1000x1000 blur:100 in 16-px tiles", try Codec.encode(noise, as: .png), query: "?ops=blur:100&tile=16")
        let tiny = try Codec.encode(Image(width: 8, height: 8, channels: 1, value: 1), as: .png)
        let boundary = "hostile-boundary"
        var multipart: [UInt8] = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"ops\"\r\n\r\ninvert\r\n".utf8)
        for k in 0..<200 {
            multipart += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(k).png\"\r\n\r\n".utf8) + tiny + [13, 10]
        }
        multipart += Array("--\(boundary)--\r\n".utf8)
        try post("200 files in one request", multipart, query: "", type: "multipart/form-data; boundary=\(boundary)")
        try post("median:64 x 8 on 16 MP", try Codec.encode(Image(width: 4000, height: 4000, channels: 3, value: 9), as: .png),
                 query: "?ops=" + Array(repeating: "median:64", count: 8).joined(separator: ","))
        try post("resize:10000x10000 of 1x1", try Codec.encode(Image(width: 1, height: 1, channels: 1), as: .png), query: "?ops=resize:10000x10000")
        try post("truncated JPEG", Array(normal.prefix(normal.count / 2)), query: "?ops=invert", type: "image/jpeg")
        try post("not an image", Array(repeating: 0x41, count: 10_000), query: "?ops=invert")
        // Event streams of a job that never ends here: opened, then dropped.
        let queued = try connection.request("POST", "/api/jobs?ops=invert", body: tiny, contentType: "image/png")
        if let id = ((try? JSONSerialization.jsonObject(with: Data(queued.body)) as? [String: Any])?["jobs"] as? [[String: Any]])?
            .first?["id"] as? String {
            for _ in 0..<20 {
                let stream = try HTTPConnection(port: system.port)
                try stream.send("GET /api/jobs/\(id)/events HTTP/1.1\r\nHost: x\r\n\r\n")
            }
        }
        // 100 normal jobs, 4 clients at a time.
        let counts = SystemBench.Counts()
        let group = DispatchGroup()
        for _ in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let c = try? HTTPConnection(port: system.port) else { return }
                for _ in 0..<25 { counts.add(ok: ((try? system.job(c, normal, ops: "blur:2,sharpen")) ?? nil) != nil) }
            }.start()
        }
        group.wait()
        Thread.sleep(forTimeInterval: 6)
        let (rssAfter, redisAfter) = (rss(), try redisMemory())
        let (ok, failed) = counts.values
        print("\nhostile mix (server and Redis db 2 as above):")
        for (name, status) in probes { print("    \(name): \(status)") }
        print(String(format: "100 normal jobs: %d done, %d not", ok, failed))
        print(String(format: "server RSS %.0f MB before, %.0f MB after (%+.1f%%); Redis memory %.1f MB before, %.1f MB after (%+.1f%%)",
                     Double(rssBefore) / 1e6, Double(rssAfter) / 1e6, 100 * Double(rssAfter - rssBefore) / Double(rssBefore),
                     Double(redisBefore) / 1e6, Double(redisAfter) / 1e6, 100 * Double(redisAfter - redisBefore) / Double(redisBefore)))
    }
}
