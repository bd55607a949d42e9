import Foundation
import ImageCodecs
import ImageCore
import JobEvents
import Jobs
import Testing
import TestSupport
import TileStore

@Suite("The whole system", .serialized,
       .enabled(if: systemAvailable, "needs AMQP_URL (make test starts RabbitMQ) and mpirun"))
struct SystemTests {
    /// Several images in one multipart upload and one as a raw body, pipelines
    /// with canny and clahe; results downloaded equal `imgproc process`;
    /// job.created and job.done seen on RabbitMQ.
    @Test func uploadFollowDownload() throws {
        let system = try System(db: 40)
        let events = Locked<[String]>([])
        let listener = try EventListener(url: system.amqp) { event in events.with { $0.append("\(event.kind.rawValue) \(event.status) \(event.id)") } }
        defer { listener.stop() }
        let d = system.dir
        try writeImage(testImage(width: 301, height: 199, channels: 3, seed: 31), .png, to: d.path("a.png"))
        try writeImage(testImage(width: 127, height: 257, channels: 1, seed: 32), .png, to: d.path("b.png"))
        try writeImage(testImage(width: 333, height: 222, channels: 3, seed: 33), .jpeg, to: d.path("c.jpg"))
        let multiOps = "clahe:3:4,blur:1,canny:50:150"
        let rawOps = "sharpen:1.5:1,clahe"
        let multi = try system.curl(["-F", "ops=\(multiOps)", "-F", "file=@\(d.path("a.png"))", "-F", "file=@\(d.path("b.png"))",
                                     system.base + "/api/jobs"])
        #expect(multi.status == 202, "\(String(decoding: multi.body, as: UTF8.self))")
        let raw = try system.curl(["--data-binary", "@\(d.path("c.jpg"))", "-H", "Content-Type: image/jpeg",
                                   system.base + "/api/jobs?ops=\(rawOps)"])
        #expect(raw.status == 202)
        let ids = jobIDs(multi.body) + jobIDs(raw.body)
        #expect(ids.count == 3)
        // Live progress as server-sent events, until the first job is done.
        let sse = try system.curl(["-N", system.base + "/api/jobs/\(ids[0])/events"])
        let stream = String(decoding: sse.body, as: UTF8.self)
        #expect(stream.contains("event: progress") && stream.contains("event: done"), "\(stream.prefix(300))")
        let expected: [(String, String, String)] = [(d.path("a.png"), multiOps, "png"), (d.path("b.png"), multiOps, "png"),
                                                    (d.path("c.jpg"), rawOps, "jpg")]
        for (id, (path, ops, ext)) in zip(ids, expected) {
            let job = try system.waitFor(id)
            #expect(job["status"] as? String == "done", "\(job) \(system.logs)")
            let result = try system.get("/api/jobs/\(id)/result")
            #expect(result.status == 200)
            #expect(result.body == (try reference(path, ops: ops, ext: ext, dir: d)), "\(id) equals imgproc process")
            try waitUntil(seconds: 20) { FileManager.default.fileExists(atPath: d.path("processed/\(id).\(ext)")) }
            #expect(FileManager.default.fileExists(atPath: d.path("uploaded/\(id).\(ext)")))
        }
        try waitUntil(seconds: 20) {
            events.with { e in ids.allSatisfy { e.contains("job.created queued \($0)") && e.contains("job.done done \($0)") } }
        }
        // Cacheable as browsers and curl use it: the ETag gets a 304, and a range resumes a download.
        let url = system.base + "/api/jobs/\(ids[0])/result"
        let full = try system.curl(["-D", d.path("headers.txt"), url])
        let headers = try String(contentsOfFile: d.path("headers.txt"), encoding: .utf8).lowercased()
        #expect(headers.contains("cache-control: public, max-age=31536000, immutable"), "\(headers)")
        let etag = try #require(headers.split(separator: "\r\n").first { $0.hasPrefix("etag: ") }?.dropFirst(6))
        #expect(try system.curl(["-H", "If-None-Match: \(etag)", url]).status == 304)
        let part = try system.curl(["-r", "100-", url])
        #expect(part.status == 206 && part.body == full.body.dropFirst(100))
        // The CLI client, as users run it.
        let cli = try run(builtProduct("imgproc"), ["submit", d.path("a.png"), "--ops", "grayscale,invert", "--wait",
                                                    "--out", d.path("cli"), "--server", system.base])
        #expect(cli.status == 0, "\(cli.stderr)")
        let cliID = String(cli.stdout.split(separator: " ").first ?? "")
        #expect(try Data(contentsOf: URL(fileURLWithPath: d.path("cli/\(cliID).png")))
                == reference(d.path("a.png"), ops: "grayscale,invert", ext: "png", dir: d))
        let status = try run(builtProduct("imgproc"), ["status", cliID, "--server", system.base])
        #expect(status.stdout.contains("status    done"))
    }

    /// A phone photo (EXIF orientation 6, GPS beside it, an ICC profile) is
    /// set upright in tiles over the ranks, equal to `imgproc process`;
    /// `autorotate=false` keeps the stored pixels; outputs keep the profile
    /// and drop the EXIF block unless `keep_metadata=true` (then it says upright).
    @Test func photosAreSetUpright() throws {
        let system = try System(db: 58)
        let d = system.dir
        let plain = try Codec.encode(testImage(width: 301, height: 203, channels: 3, seed: 41), as: .jpeg)
        let profile = fakeProfile(size: 70_000, seed: 9)
        try Data(profile).write(to: URL(fileURLWithPath: d.path("profile.icc")))
        try Data(withExif(withICCProfile(plain, profile), orientation: 6)).write(to: URL(fileURLWithPath: d.path("phone.jpg")))
        func upload(_ extra: [String]) throws -> String {
            let reply = try system.curl(["-F", "ops=blur:1", "-F", "tile=64"] + extra + ["-F", "file=@\(d.path("phone.jpg"))", system.base + "/api/jobs"])
            return try #require(jobIDs(reply.body).first, "\(String(decoding: reply.body, as: UTF8.self))")
        }
        let turned = try upload([]), kept = try upload(["-F", "autorotate=false"])
        let job = try system.waitFor(turned)
        #expect(job["status"] as? String == "done" && job["ops"] as? String == "rotate:90,blur:1", "\(job)")
        let orientation = job["orientation"] as? [String: Any]
        #expect(orientation?["exif"] as? Int == 6 && orientation?["applied"] as? Bool == true, "\(job)")
        #expect((job["output"] as? [String: Int])?["width"] == 203 && (job["tiles"] as? [String: Any])?["columns"] as? Int == 4)
        let result = try system.get("/api/jobs/\(turned)/result").body
        #expect(result == (try reference(d.path("phone.jpg"), ops: "blur:1", ext: "jpg", dir: d)))
        #expect(result.range(of: Data("Exif".utf8)) == nil, "no EXIF (and so no GPS) in the output")
        try result.write(to: URL(fileURLWithPath: d.path("turned.jpg")))
        let seen = try pillowMetadata(d.path("turned.jpg"), profile: d.path("profile.icc"))
        #expect(seen.sameProfile && seen.orientation == 0 && !seen.gps, "\(seen)")

        // keep_metadata=true, and a PNG result: the EXIF block moves into an eXIf chunk, saying upright.
        let all = try upload(["-F", "keep_metadata=true", "-F", "format=png"])
        #expect(try system.waitFor(all)["status"] as? String == "done")
        let allResult = try system.get("/api/jobs/\(all)/result").body
        #expect(allResult == (try reference(d.path("phone.jpg"), ops: "blur:1", ext: "png", dir: d, ["--keep-metadata"])))
        try allResult.write(to: URL(fileURLWithPath: d.path("all.png")))
        let seenAll = try pillowMetadata(d.path("all.png"), profile: d.path("profile.icc"))
        #expect(seenAll.sameProfile && seenAll.orientation == 1 && seenAll.gps, "\(seenAll)")

        let keptJob = try system.waitFor(kept)
        let keptOrientation = keptJob["orientation"] as? [String: Any]
        #expect(keptOrientation?["exif"] as? Int == 6 && keptOrientation?["applied"] as? Bool == false, "\(keptJob)")
        #expect(try system.get("/api/jobs/\(kept)/result").body
                == (try reference(d.path("phone.jpg"), ops: "blur:1", ext: "jpg", dir: d, ["--no-autorotate"])))

        // Thumbnails of the upright photo, in 32-pixel tiles over the ranks.
        // Smaller thumbnails load the JPEG shrunk by 2 or 4 in the DCT domain.
        for (ops, shrink) in [("fit:120x120", nil), ("fill:90x90", nil), ("fit:40x40", "2"), ("fill:30x30", "2"), ("fit:20x20", "4"), ("fill:30x30:smart", "2")] {
            let reply = try system.curl(["-F", "ops=\(ops)", "-F", "tile=32", "-F", "file=@\(d.path("phone.jpg"))", system.base + "/api/jobs"])
            let id = try #require(jobIDs(reply.body).first)
            #expect(try system.waitFor(id)["status"] as? String == "done")
            #expect(try system.store.job(id)?.fields["shrink_on_load"] == shrink, "\(ops)")
            #expect(try system.get("/api/jobs/\(id)/result").body == (try reference(d.path("phone.jpg"), ops: ops, ext: "jpg", dir: d)), "\(ops)")
        }
    }

    /// A CMYK JPEG (through its profile) and `colorspace=srgb` on a Display
    /// P3 PNG, in tiles over the ranks, equal to `imgproc process`; the P3
    /// profile is kept when the pixels are not converted, PNG to WebP too.
    @Test func colourIsConvertedInTiles() throws {
        let system = try System(db: 63)
        let d = system.dir
        try writeImage(testImage(width: 150, height: 110, channels: 3, seed: 63), .png, to: d.path("rgb.png"))
        for (name, profile) in [("cmyk.jpg", "cmyk"), ("p3.png", "p3")] { try vipsExport(d.path("rgb.png"), to: d.path(name), profile: profile) }
        let p3 = Metadata.read([UInt8](try Data(contentsOf: URL(fileURLWithPath: d.path("p3.png"))))).icc
        try Data(try #require(p3)).write(to: URL(fileURLWithPath: d.path("p3.icc")))
        let cases = [("cmyk.jpg", [String](), "jpg", [String]()), ("p3.png", ["-F", "colorspace=srgb"], "png", ["--colorspace", "srgb"]),
                     ("p3.png", [], "png", []), ("p3.png", ["-F", "format=webp"], "webp", [])]
        for (file, options, ext, extra) in cases {
            let reply = try system.curl(["-F", "ops=blur:1", "-F", "tile=32"] + options + ["-F", "file=@\(d.path(file))", system.base + "/api/jobs"])
            let id = try #require(jobIDs(reply.body).first, "\(String(decoding: reply.body, as: UTF8.self))")
            #expect(try system.waitFor(id)["status"] as? String == "done")
            let result = try system.get("/api/jobs/\(id)/result").body
            #expect(result == (try reference(d.path(file), ops: "blur:1", ext: ext, dir: d, extra)), "\(file) \(options)")
            let keepsP3 = file == "p3.png" && !options.contains("colorspace=srgb")
            #expect(Metadata.read([UInt8](result)).icc == (keepsP3 ? p3 : nil), "\(file) \(options)")
            if keepsP3 {
                // Pillow, reading the PNG or WebP result, finds the same profile.
                try result.write(to: URL(fileURLWithPath: d.path("out.\(ext)")))
                #expect(try pillowMetadata(d.path("out.\(ext)"), profile: d.path("p3.icc")).sameProfile, "\(options)")
            }
        }
        let bad = try system.curl(["-F", "ops=invert", "-F", "colorspace=p3", "-F", "file=@\(d.path("p3.png"))", system.base + "/api/jobs"])
        #expect(bad.status == 400 && String(decoding: bad.body, as: UTF8.self).contains("bad_option"))
    }

    /// The result's format, quality and PNG level are the upload's choice, in
    /// tiles over the ranks, equal to `imgproc process` writing that format.
    @Test func outputFormatIsChosenPerJob() throws {
        let system = try System(db: 59)
        let d = system.dir
        try writeImage(testImage(width: 301, height: 203, channels: 4, seed: 51), .png, to: d.path("a.png"))
        try writeImage(testImage(width: 257, height: 190, channels: 3, seed: 52), .jpeg, to: d.path("b.jpg"))
        try writeImage(testImage(width: 211, height: 170, channels: 4, seed: 53), .webp, to: d.path("c.webp"))
        try writeImage(testImage(width: 150, height: 120, channels: 3, seed: 54), .avif, to: d.path("e.avif"))
        let acceptsWebP = ["-H", "Accept: image/webp,*/*;q=0.8"]
        let cases = [("a.png", ["-F", "format=jpeg", "-F", "quality=75"], "jpg", ["--quality", "75"]),
                     ("b.jpg", ["-F", "format=png"], "png", []), ("b.jpg", ["-F", "format=source"], "jpg", []),
                     ("b.jpg", ["-F", "format=png", "-F", "png_level=9"], "png", ["--png-level", "9"]),
                     ("a.png", ["-F", "format=webp", "-F", "quality=80"], "webp", ["--quality", "80"]),
                     ("c.webp", ["-F", "format=png"], "png", []), ("c.webp", [], "webp", []),
                     ("b.jpg", ["-F", "format=auto"] + acceptsWebP, "webp", []), ("b.jpg", ["-F", "format=auto"], "jpg", []),
                     ("b.jpg", ["-F", "format=auto", "-H", "Accept: image/webp;q=0"], "jpg", []),
                     ("a.png", ["-F", "format=avif", "-F", "quality=60"], "avif", ["--quality", "60"]),
                     ("e.avif", ["-F", "format=png"], "png", []),
                     ("e.avif", ["-F", "format=auto", "-H", "Accept: image/avif,image/webp"], "avif", [])]
        for (file, options, ext, extra) in cases {
            let reply = try system.curl(["-F", "ops=sharpen:1:1", "-F", "tile=64"] + options + ["-F", "file=@\(d.path(file))", system.base + "/api/jobs"])
            let id = try #require(jobIDs(reply.body).first, "\(String(decoding: reply.body, as: UTF8.self))")
            let job = try system.waitFor(id)
            #expect(job["status"] as? String == "done" && job["format"] as? String == ImageFormat(fileExtension: ext)?.rawValue, "\(job)")
            let result = try system.get("/api/jobs/\(id)/result").body
            #expect(result == (try reference(d.path(file), ops: "sharpen:1:1", ext: ext, dir: d, extra)), "\(file) \(options)")
            try waitUntil(seconds: 20) { FileManager.default.fileExists(atPath: d.path("processed/\(id).\(ext)")) }
        }
        let tooWide = try system.curl(["-F", "ops=resize:17000x10", "-F", "format=webp", "-F", "file=@\(d.path("a.png"))", system.base + "/api/jobs"])
        #expect(tooWide.status == 400 && String(decoding: tooWide.body, as: UTF8.self).contains("16383"))
        for bad in [["-F", "format=gif"], ["-F", "quality=0"], ["-F", "quality=high"], ["-F", "png_level=10"]] {
            let reply = try system.curl(["-F", "ops=invert"] + bad + ["-F", "file=@\(d.path("a.png"))", system.base + "/api/jobs"])
            #expect(reply.status == 400 && String(decoding: reply.body, as: UTF8.self).contains("bad_option"), "\(bad)")
        }
    }

    /// The same upload again gets the finished job at once; other options
    /// or `dedupe=false` run a new job.
    @Test func repeatedUploadsAreDeduplicated() throws {
        let system = try System(db: 61)
        let d = system.dir
        try writeImage(testImage(width: 120, height: 80, channels: 3, seed: 61), .png, to: d.path("a.png"))
        func upload(_ extra: [String] = []) throws -> [String: Any] {
            let reply = try system.curl(["-F", "ops=blur:2"] + extra + ["-F", "file=@\(d.path("a.png"))", system.base + "/api/jobs"])
            #expect(reply.status == 202)
            let json = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
            return try #require((json?["jobs"] as? [[String: Any]])?.first)
        }
        let first = try upload()
        let id = try #require(first["id"] as? String)
        #expect(first["deduplicated"] == nil && first["status"] as? String == "queued")
        #expect(try system.waitFor(id)["status"] as? String == "done")
        try waitUntil(seconds: 20) { FileManager.default.fileExists(atPath: d.path("processed/\(id).png")) }
        let again = try upload(["-F", "tile=32"])
        #expect(again["id"] as? String == id && again["deduplicated"] as? Bool == true && again["status"] as? String == "done", "\(again)")
        #expect(try system.get("/api/jobs/\(id)/result").status == 200)
        for different in [["-F", "dedupe=false"], ["-F", "format=jpeg"], ["-F", "ops=blur:3"], ["-F", "png_level=9"]] {
            let other = try upload(different)
            #expect(other["id"] as? String != id && other["deduplicated"] == nil, "\(different)")
        }
        // A hash collision (forged here in Redis) finds a candidate, but the bytes differ: a new job.
        let other = try Codec.encode(testImage(width: 120, height: 80, channels: 3, seed: 62), as: .png)
        try Data(other).write(to: URL(fileURLWithPath: d.path("a.png")))
        try system.store.rememberUpload(try JobSubmission(bytes: other, ops: "blur:2").sameUploadDigest, id: id, seconds: 60)
        let forged = try upload()
        #expect(forged["id"] as? String != id && forged["deduplicated"] == nil, "\(forged)")
    }

    /// RabbitMQ restarted between upload and completion: the job completes and its result is stored.
    @Test func rabbitMQRestarts() throws {
        let rabbit = try RabbitTestServer()
        let system = try System(db: 41, amqp: rabbit.url, workerEnvironment: ["IMGPROC_TEST_TILE_DELAY_MS": "40"])
        try writeImage(testImage(width: 320, height: 240, channels: 3, seed: 7), .png, to: system.dir.path("r.png"))
        let upload = try system.curl(["-F", "ops=blur:2,canny", "-F", "file=@\(system.dir.path("r.png"))", system.base + "/api/jobs"])
        let id = try #require(jobIDs(upload.body).first)
        try rabbit.stopBroker()
        let done = try waitForRedis(system, id)
        #expect(done.status == .done)
        Thread.sleep(forTimeInterval: 1)
        try rabbit.startBroker()
        try waitUntil(seconds: 30) { FileManager.default.fileExists(atPath: system.dir.path("processed/\(id).png")) }
        let result = try system.get("/api/jobs/\(id)/result")
        #expect(result.status == 200)
        #expect(result.body == (try reference(system.dir.path("r.png"), ops: "blur:2,canny", ext: "png", dir: system.dir)))
    }

    /// The server restarted while a job runs: after the restart the result is stored and downloadable.
    @Test func serverRestarts() throws {
        let system = try System(db: 42, workerEnvironment: ["IMGPROC_TEST_TILE_DELAY_MS": "40"])
        try writeImage(testImage(width: 320, height: 240, channels: 3, seed: 8), .png, to: system.dir.path("s.png"))
        let upload = try system.curl(["-F", "ops=median:2,clahe", "-F", "file=@\(system.dir.path("s.png"))", system.base + "/api/jobs"])
        let id = try #require(jobIDs(upload.body).first)
        kill(system.server.pid, SIGKILL)
        _ = system.server.wait(seconds: 10)
        #expect(try waitForRedis(system, id).status == .done)
        #expect(!FileManager.default.fileExists(atPath: system.dir.path("processed/\(id).png")))
        try system.restartServer()
        try waitUntil(seconds: 30) { FileManager.default.fileExists(atPath: system.dir.path("processed/\(id).png")) }
        let result = try system.get("/api/jobs/\(id)/result")
        #expect(result.status == 200)
        #expect(result.body == (try reference(system.dir.path("s.png"), ops: "median:2,clahe", ext: "png", dir: system.dir)))
        #expect(try system.store.result(id) == nil, "the copy in Redis is gone once stored")
    }

    /// An upload over the limit is refused while it streams in, not after it was all read.
    @Test func oversizedUploadsAreRefusedWhileStreaming() throws {
        let system = try System(db: 43, serverArguments: ["--max-upload-mib", "2"])
        let script = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", \(system.port)))
            s.sendall(b"POST /api/jobs?ops=blur HTTP/1.1\\r\\nHost: x\\r\\nContent-Type: image/png\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n")
            s.setblocking(False)
            chunk = b"%x\\r\\n" % 65536 + b"\\0" * 65536 + b"\\r\\n"
            sent, reply = 0, b""
            while sent < 500 * 2**20:
                try:
                    reply += s.recv(65536)
                    if reply: break
                except BlockingIOError:
                    pass
                try:
                    s.sendall(chunk); sent += 65536
                except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                    break
            s.setblocking(True); s.settimeout(10)
            try:
                while b"\\r\\n\\r\\n" not in reply: reply += s.recv(65536)
            except Exception:
                pass
            print(sent // 2**20, reply.split(b"\\r\\n")[0].decode())
            """
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script])
        let parts = r.stdout.split(separator: " ", maxSplits: 1)
        #expect(parts.count == 2 && parts[1].contains("413"), "\(r.stdout) \(r.stderr)")
        #expect((Int(parts.first ?? "") ?? 999) < 100, "refused after \(parts.first ?? "?") MiB of a 500 MiB upload")
        #expect((try system.get("/healthz")).status == 200, "the server keeps serving")
    }

    /// curl sends `Expect: 100-continue` with any body over 1 MB and holds the
    /// body back until the server answers 100 Continue (a second by default,
    /// a minute here): the server answers on the request head, and the upload
    /// goes on as any other.
    @Test func curlIsToldToContinueAtOnce() throws {
        let system = try System(db: 57, workers: false)
        let noise = testImage(width: 1000, height: 800, channels: 3, seed: 31)
        let file = system.dir.path("noise.png")
        try Data(try Codec.encode(noise, as: .png)).write(to: URL(fileURLWithPath: file))
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        #expect(size > 1_048_576, "large enough for curl to ask")
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"),
                        ["curl", "-sv", "--expect100-timeout", "60", "-o", "/dev/null", "-w", "%{http_code}",
                         "-H", "Content-Type: image/png", "--data-binary", "@\(file)", system.base + "/api/jobs?ops=invert"])
        #expect(r.stdout == "202", "\(r.stderr.suffix(500))")
        #expect(r.stderr.contains("> Expect: 100-continue"))
        #expect(r.stderr.contains("< HTTP/1.1 100 Continue"), "\(r.stderr.suffix(800))")
        // By hand: the 100 comes before any of the body is sent; then the final answer.
        let body = try Codec.encode(testImage(width: 40, height: 30, channels: 3, seed: 32), as: .png)
        let upload = try RawSocket(port: system.port)
        try upload.send(Array(("POST /api/jobs?ops=invert HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                               + "Content-Length: \(body.count)\r\nExpect: 100-Continue\r\n\r\n").utf8))
        let interim = String(decoding: upload.receive(until: Array("\r\n\r\n".utf8), seconds: 10), as: UTF8.self)
        #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
        try upload.send(body)
        let reply = String(decoding: upload.receive(until: Array("\"jobs\"".utf8), seconds: 10), as: UTF8.self)
        #expect(reply.hasPrefix("HTTP/1.1 202"), "\(reply.prefix(300))")
    }

    /// The pages in a real browser: the upload page, and a finished job's tracking page showing the result.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"), "chromium is not installed (make deps)"))
    func pagesInABrowser() throws {
        let system = try System(db: 44)
        try writeImage(testImage(width: 200, height: 150, channels: 3, seed: 9), .png, to: system.dir.path("p.png"))
        let upload = try system.curl(["-F", "ops=grayscale,canny:40:120", "-F", "file=@\(system.dir.path("p.png"))", system.base + "/api/jobs"])
        let id = try #require(jobIDs(upload.body).first)
        #expect(try system.waitFor(id)["status"] as? String == "done")
        let artefacts = packageRoot.appendingPathComponent(".build/test-artifacts")
        try FileManager.default.createDirectory(at: artefacts, withIntermediateDirectories: true)
        func chromium(_ args: [String]) throws -> ProcessResult {
            try run(URL(fileURLWithPath: "/usr/bin/chromium"), ["--headless=new", "--no-sandbox", "--disable-gpu",
                                                                  "--disable-dev-shm-usage", "--virtual-time-budget=8000",
                                                                  "--user-data-dir=\(system.dir.path("chromium"))"] + args)
        }
        let home = try chromium(["--dump-dom", system.base + "/"])
        #expect(home.stdout.contains("Upload and process") && home.stdout.contains("canny:LOW:HIGH"), "\(home.stderr.suffix(500))")
        #expect(home.stdout.contains(id), "recent jobs are listed")
        #expect(home.stdout.contains(#"<option value="jpeg">JPEG</option>"#) && home.stdout.contains(#"id="quality""#)
                && home.stdout.contains(#"id="png_level""#) && home.stdout.contains(#"id="autorotate""#),
                "the result's format, quality, PNG level and orientation can be chosen")
        let page = try chromium(["--dump-dom", system.base + "/jobs/\(id)"])
        #expect(page.stdout.contains("id=\"after\"") && page.stdout.range(of: #"id="after"[^>]*src="blob:"#, options: .regularExpression) != nil
                || page.stdout.range(of: #"src="blob:[^"]*"[^>]*id="after""#, options: .regularExpression) != nil,
                "the result image is shown: \(page.stdout.suffix(800))")
        #expect(page.stdout.contains(">done<"), "the status says done")
        // A person's upload through the page, asking for JPEG from a PNG.
        let script = packageRoot.appendingPathComponent("Tests/SystemTests/page_upload.py").path
        let clicked = try run(URL(fileURLWithPath: "/usr/bin/env"),
                              ["python3", script, system.base, system.dir.path("p.png"), "jpeg", system.dir.path("chromium-upload")])
        #expect(clicked.status == 0, "\(clicked.stderr)")
        let chosen = String(clicked.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "/").last ?? "")
        let chosenJob = try system.waitFor(chosen)
        #expect(chosenJob["format"] as? String == "jpeg", "\(chosenJob)")
        #expect(try system.get("/api/jobs/\(chosen)/result").body
                == (try reference(system.dir.path("p.png"), ops: "grayscale,blur:1.5,canny:50:150", ext: "jpg", dir: system.dir)))
        let shot = artefacts.appendingPathComponent("job-page.png")
        _ = try chromium(["--screenshot=\(shot.path)", "--window-size=1200,1400", system.base + "/jobs/\(id)"])
        #expect(FileManager.default.fileExists(atPath: shot.path), "screenshot kept at \(shot.path)")
    }

    func waitForRedis(_ system: System, _ id: String) throws -> JobRecord {
        var job: JobRecord?
        try waitUntil(seconds: 120) {
            job = (try? system.store.job(id)) ?? job
            return job?.status == .done || job?.status == .failed
        }
        return job!
    }
}

@Suite("The server never decodes", .serialized, .enabled(if: systemAvailable, "needs AMQP_URL (make test starts RabbitMQ) and mpirun"))
struct NoDecodingTests {
    /// An 81-megapixel flat PNG is a small upload: the server accepts it
    /// without its memory growing by the image's 243 MB of pixels.
    @Test func aLargeImageCostsTheServerItsBytesNotItsPixels() throws {
        // Its PNG output is estimated at 10 s of one core, under the default cost limit (30).
        let system = try System(db: 45)
        let image = Image(width: 9000, height: 9000, channels: 3, value: 90)
        try writeImage(image, .png, to: system.dir.path("flat.png"))
        let size = try FileManager.default.attributesOfItem(atPath: system.dir.path("flat.png"))[.size] as! Int
        let before = peakRSS(system.server.pid)
        let upload = try system.curl(["--data-binary", "@\(system.dir.path("flat.png"))", "-H", "Content-Type: image/png",
                                      system.base + "/api/jobs?ops=invert"])
        #expect(upload.status == 202, "\(String(decoding: upload.body, as: UTF8.self))")
        let grown = peakRSS(system.server.pid) - before
        #expect(grown < 100 * 1024 * 1024, "the server's peak memory grew by \(grown / 1024 / 1024) MB for a \(size / 1024) KB upload")
    }

    /// Damage the header does not show is found by the rank that decodes the
    /// image: the job fails with the decoder's reason, and nothing else is lost.
    @Test func damageInsideTheDataFailsTheJobClearly() throws {
        let system = try System(db: 46)
        var bytes = try Codec.encode(testImage(width: 640, height: 480, channels: 3, seed: 3), as: .jpeg)
        for i in stride(from: bytes.count / 3, to: bytes.count / 3 + 400, by: 7) { bytes[i] = 0xFF; bytes[i + 1] = 0xC8 }
        try Data(bytes).write(to: URL(fileURLWithPath: system.dir.path("bad.jpg")))
        try writeImage(testImage(width: 90, height: 60, channels: 3, seed: 4), .png, to: system.dir.path("good.png"))
        let bad = try system.curl(["--data-binary", "@\(system.dir.path("bad.jpg"))", system.base + "/api/jobs?ops=blur:1"])
        let good = try system.curl(["--data-binary", "@\(system.dir.path("good.png"))", system.base + "/api/jobs?ops=blur:1"])
        #expect(bad.status == 202 && good.status == 202)
        let failed = try system.waitFor(try #require(jobIDs(bad.body).first))
        #expect(failed["status"] as? String == "failed")
        #expect((failed["error"] as? String ?? "").contains("corrupt JPEG"), "\(failed)")
        #expect(try system.waitFor(try #require(jobIDs(good.body).first))["status"] as? String == "done")
    }
}

/// The peak resident memory of a process so far, in bytes (VmHWM).
func peakRSS(_ pid: pid_t) -> Int {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
    return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
}

@Suite("Pushed events", .serialized, .enabled(if: systemAvailable, "needs AMQP_URL (make test starts RabbitMQ) and mpirun"))
struct PushedEventTests {
    /// The event stream wakes on each change of the job (the scripts publish
    /// it on imgproc:events), so a client sees every state, and the end at
    /// once: without the push the stream would only look again at its 15 s
    /// tick. The test plays the workers' part in Redis, a change every 50 ms.
    @Test func theEventStreamSeesEveryChangeAsItHappens() throws {
        let system = try System(db: 47, workers: false)
        let store = system.store
        let id = TileStore.newJobID()
        let total = 12
        try store.submit(id: id, fields: ["ops": "invert", "width": "64", "height": "48", "channels": "3", "format": "png",
                                          "tile_size": "16", "stages": "1"],
                         tiles: (0..<total).map { StageTile(index: $0, core: Rect(x: 16 * ($0 % 4), y: 16 * ($0 / 4), width: 16, height: 16),
                                                             halo: Rect(x: 16 * ($0 % 4), y: 16 * ($0 / 4), width: 16, height: 16)) },
                         source: [1])
        // An outside client, timing each line it reads.
        let script = """
            import http.client, sys, time
            c = http.client.HTTPConnection("127.0.0.1", \(system.port), timeout=120)
            c.request("GET", "/api/jobs/\(id)/events")
            r = c.getresponse()
            while True:
                line = r.readline()
                if not line: break
                print(f"{time.time():.6f} {line.decode().rstrip()}", flush=True)
            """
        let reader = try Background("/usr/bin/env", ["python3", "-c", script], log: system.dir.url.appendingPathComponent("sse.log"))
        defer { reader.stop() }
        try waitUntil(seconds: 30) { reader.output.contains("event: progress") }
        _ = try store.deal(id: id, world: 1, maxAttempts: 3, reason: "start")
        for tile in try store.claim(id: id, rank: 0, count: total) {
            Thread.sleep(forTimeInterval: 0.05)
            try store.complete(id: id, rank: 0, outputs: [(tile.index, [])])
        }
        Thread.sleep(forTimeInterval: 0.05)
        try store.finish(id: id, result: [1, 2, 3], world: 1)
        let finished = Date().timeIntervalSince1970
        #expect(reader.wait(seconds: 30) != nil, "the stream ends with the job")
        let lines = reader.output.split(separator: "\n")
        let steps = lines.compactMap { line -> Int? in
            guard let data = line.split(separator: " ", maxSplits: 1).last, data.hasPrefix("data: "),
                  let json = try? JSONSerialization.jsonObject(with: Data(data.dropFirst(6).utf8)) as? [String: Any] else { return nil }
            return (json["progress"] as? [String: Int])?["done"]
        }
        #expect(Array(Set(steps)).sorted() == Array(0...total), "every progress step was sent: \(steps)")
        let done = try #require(lines.first { $0.hasSuffix("event: done") }.flatMap { Double($0.split(separator: " ")[0]) })
        #expect(done - finished < 5, "the end reached the client \(done - finished) s after the job finished")
    }
}
