import Foundation
import HTTPTypes
import Hummingbird
import ImageCodecs
import ImageCore
import JobEvents
import Jobs
import Logging
import NIOCore
import ServiceLifecycle
import TileStore
import Uploads

/// The /api/jobs routes.
struct JobsAPI: Sendable {
    let config: ServerConfiguration
    let pool: StorePool
    let events: EventPublisher
    let keeper: ResultKeeper
    let watch: JobWatch
    let metrics: Metrics
    let uploads: Gate
    let streams: Gate

    init(config: ServerConfiguration, pool: StorePool, events: EventPublisher, keeper: ResultKeeper, watch: JobWatch,
         metrics: Metrics) {
        self.config = config
        self.pool = pool
        self.events = events
        self.keeper = keeper
        self.watch = watch
        self.metrics = metrics
        uploads = Gate(limit: config.maxUploads)
        streams = Gate(limit: config.maxEventStreams)
    }

    func register(on api: RouterGroup<BasicRequestContext>) {
        api.post("jobs") { request, context in try await self.create(request, context) }
        api.get("jobs") { _, _ in try await self.list() }
        api.get("jobs/:id") { _, context in try await self.show(try Self.id(context)) }
        api.get("jobs/:id/events") { _, context in try await self.events(try Self.id(context)) }
        api.get("jobs/:id/result") { request, context in try await self.result(try Self.id(context), request.headers) }
        api.get("jobs/:id/source") { request, context in try await self.source(try Self.id(context), request.headers) }
        // Anything else under /api is a JSON 404 too.
        // Preflights reach the origin guard, which answers them (one route per path: the
        // router matches the path before the method).
        for path in ["jobs", "jobs/:id", "jobs/:id/events", "jobs/:id/result", "jobs/:id/source", "**"] {
            api.on(RouterPath(path), method: .options) { request, _ -> Response in
                throw APIError(.notFound, .notFound, "no API at \(request.uri.path)")
            }
        }
        for method in [HTTPRequest.Method.get, .post, .put, .delete] {
            api.on("**", method: method) { request, _ -> Response in
                throw APIError(.notFound, .notFound, "no API at \(request.uri.path)")
            }
        }
    }

    /// The job id of the path; only 32 hex digits can be ids (and become file names).
    static func id(_ context: BasicRequestContext) throws -> String {
        let id = context.parameters.get("id") ?? ""
        guard id.count == 32, id.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { throw APIError.notFound(id) }
        return id
    }

    // MARK: Uploads

    func create(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        do {
            guard uploads.enter() else {
                throw APIError.busy("\(config.maxUploads) uploads are being read already", retryAfter: 1)
            }
            defer { uploads.leave() }
            try await admit(request)
            let staging = SourceStaging.start(request.headers[.contentType] ?? "", length: request.headers[.contentLength].flatMap { Int($0) },
                                              pool: pool)
            do {
                let parts = try await UploadReader.read(request, limit: config.maxUploadBytes, maxFiles: config.maxFiles,
                                                        deadline: .now + .seconds(config.uploadTimeout), staging: staging)
                return try await create(request, parts: parts, staging: staging, logger: context.logger)
            } catch {
                await staging?.drop()
                throw error
            }
        } catch let error as APIError {
            metrics.refusedUpload(error.code.rawValue)
            throw error
        }
    }

    /// Refuses before reading: a full queue (429) or a nearly full disk (507).
    func admit(_ request: Request) async throws {
        let queued = try await pool.run { try $0.queuedJobs() }
        if queued >= config.maxQueued {
            throw APIError.busy("\(queued) jobs are waiting or running, the most this server takes (--max-queued)", retryAfter: 10)
        }
        var disk = statvfs()
        if statvfs(config.uploads.path, &disk) == 0 {
            let free = Int(disk.f_bavail) * Int(disk.f_frsize)
            let incoming = request.headers[.contentLength].flatMap { Int($0) } ?? 0
            if free - incoming < config.minFreeDisk {
                throw APIError(.init(code: 507, reasonPhrase: "Insufficient Storage"), .insufficientStorage,
                               "the server's disk is nearly full (\(free / 1_048_576) MiB free); try again later")
            }
        }
    }

    /// Checks every file, then accepts them all: answers 202 with the jobs.
    /// - Parameters:
    ///   - staging: the one file's original, copied into Redis as it arrived.
    ///   - logger: the request's logger (it carries the request's id).
    func create(_ request: Request, parts: [UploadPart], staging: SourceStaging? = nil, logger: Logger) async throws -> Response {
        let files = parts.filter(\.isFile)
        do {
            let options = try Self.options(request, parts: parts, files: files)
            let submissions = try await check(files, options, id: staging?.id)
            try await staging?.finish(files[0].data)
            let jobs = try await accept(submissions, options, staging: staging, logger: logger)
            metrics.uploaded(bytes: files.reduce(0) { $0 + $1.data.count }, jobs: jobs.count)
            logger.info("accepted \(jobs.count) job(s)", metadata: ["ops": "\(options.ops)"])
            var response = Respond.json(object: ["jobs": jobs], status: .accepted)
            response.headers[.location] = jobs.first?["status_url"] as? String
            return response
        } catch let error as APIError {
            throw error
        } catch {
            logger.error("upload failed: \(error)")
            throw APIError(.internalServerError, .internal, "the upload could not be stored: \(error)")
        }
    }

    /// The job's options, from the form's fields or else the query; and a file must have come.
    /// A query value a form field overrides must still be valid: a bad one is refused, not ignored.
    static func options(_ request: Request, parts: [UploadPart], files: [UploadPart]) throws(APIError) -> JobOptions {
        guard !files.isEmpty, files.contains(where: { !$0.data.isEmpty }) || files.count == 1 else {
            throw APIError(.badRequest, .noFile, "send images as multipart 'file' parts, or one image as the body")
        }
        let query = request.uri.queryParameters
        var fields: [String: String] = [:]
        for part in parts where part.filename == nil && part.name != "file" {
            fields[part.name] = String(decoding: part.data, as: UTF8.self)
        }
        let accept = request.headers[.accept]
        let options = try JobOptions(accept: accept) { fields[$0] ?? query[Substring($0)].map(String.init) }
        if query.contains(where: { fields[String($0.key)] != nil }) {
            _ = try JobOptions(accept: accept) { $0 == "ops" ? options.ops : query[Substring($0)].map(String.init) }
        }
        return options
    }

    /// Every file checked from its header and laid out as a job, off the event
    /// loops, before any is accepted: all or nothing.
    /// - Parameter id: the job id of a lone file whose original was staged.
    func check(_ files: [UploadPart], _ options: JobOptions, id: String? = nil) async throws(APIError) -> [JobSubmission] {
        let limits = config.limits, maxRequestPixels = config.maxRequestPixels
        let tiling = options.tiling ?? config.tileSize.map { Tiling.squares($0) }
        return try await offloaded { () throws(APIError) -> [JobSubmission] in
            var pixels = 0
            var submissions: [JobSubmission] = []
            for (index, file) in files.enumerated() {
                let job: JobSubmission
                do throws(JobSubmission.Refusal) {
                    job = try JobSubmission(bytes: file.data, ops: options.ops, tiling: tiling, limits: limits,
                                            autorotate: options.autorotate, output: options.output, quality: options.quality,
                                            pngLevel: options.pngLevel, metadata: options.metadata, toSRGB: options.toSRGB, id: id ?? TileStore.newJobID())
                } catch {
                    throw Self.refusal(error, file: file, index: index, of: files.count)
                }
                pixels += job.info.width * job.info.height
                if pixels > maxRequestPixels {
                    throw APIError(.contentTooLarge, .tooManyPixels,
                                   "the files of this request hold more than \(maxRequestPixels / 1_000_000) megapixels together (at file \(index + 1)); send them in several requests")
                }
                submissions.append(job)
            }
            return submissions
        }
    }

    /// Submits each job (or answers with the finished job an upload repeats),
    /// announces it and keeps the original; returns each job's links.
    /// - Parameters:
    ///   - staging: the (one) original, in Redis already; it is deleted when a finished job answers for it.
    ///   - logger: the request's logger.
    func accept(_ submissions: [JobSubmission], _ options: JobOptions, staging: SourceStaging? = nil,
                logger: Logger) async throws -> [[String: Any]] {
        let staged = staging != nil
        let same = options.dedupe ? try await finishedJobs(submissions) : [:]
        var jobs: [[String: Any]] = []
        for job in submissions {
            if let id = same[job.id] {
                if staged { try await pool.run { try $0.dropStagedSource(id: job.id) } }
                jobs.append(Self.links(id).merging(["status": "done", "deduplicated": true]) { $1 })
                continue
            }
            // The job is published as soon as Redis holds it (durably: the
            // append-only file), so the workers start at once; the server's
            // own copy of the original (for /source) is written meanwhile,
            // before the answer. Written first, its disk writes delayed Redis's.
            let keep = config.retention > 0 ? Int(config.retention) : nil
            try await pool.run { [config] store in try job.submit(to: store, staged: staged, keepSource: config.stateless) }
            staging?.keep()
            try await pool.run { store in try store.rememberUpload(job.sameUploadDigest, id: job.id, seconds: keep) }
            events.publish(JobEvent(id: job.id, status: "queued"))
            let original = config.uploads.appendingPathComponent("\(job.id).\(job.format.fileExtension)")
            do { try await offloaded { try writeAtomically(job.source, to: original) } } catch {
                // Accepted all the same: Redis holds the original until the job ends.
                logger.error("the original of job \(job.id) could not be written to \(original.path): \(error)")
            }
            jobs.append(Self.links(job.id).merging(["status": "queued"]) { $1 })
        }
        return jobs
    }

    /// The API error for a refused file, naming it when there are several.
    static func refusal(_ error: JobSubmission.Refusal, file: UploadPart, index: Int, of count: Int) -> APIError {
        let name = (file.filename ?? "").unicodeScalars.filter { $0.properties.isAlphabetic || "._- ".unicodeScalars.contains($0) || $0.properties.numericType != nil }
        let label = count > 1 ? "file \(index + 1)\(name.isEmpty ? "" : " (\(String(String.UnicodeScalarView(name.prefix(80)))))"): " : ""
        switch error.code {
        case .badPipeline:
            return APIError(.badRequest, .badPipeline, label + error.description)
        case .tooCostly:
            return APIError(.unprocessableContent, .tooCostly, label + error.description)
        case .badOption:
            return APIError(.badRequest, .badOption, label + error.description)
        case .badImage:
            switch (error.cause as? CodecError)?.code {
            case .tooLarge?: return APIError(.contentTooLarge, .tooManyPixels, label + error.description)
            case .unknownFormat?: return APIError(.unsupportedMediaType, .unknownFormat, label + error.description)
            case .unsupported?: return APIError(.unsupportedMediaType, .unsupportedFormat, label + error.description)
            case .empty?: return APIError(.badRequest, .emptyFile, label + error.description)
            default: return APIError(.badRequest, .corruptImage, label + error.description)
            }
        }
    }

    // MARK: Reading

    func view(_ id: String) async throws -> JobView {
        let keeper = self.keeper
        let (view, expired) = try await pool.run { store -> (JobView?, Bool) in
            guard let job = try store.job(id) else { return (nil, try store.isExpired(id)) }
            let stored = job.isStored || job.status == .done
                && FileManager.default.fileExists(atPath: keeper.file(for: id, format: job.format).path)
            return (JobView(job, tileRanks: try store.tileRanks(id, completed: true), stored: stored), false)
        }
        guard let view else { throw expired ? APIError.expired(id) : APIError.notFound(id) }
        return view
    }

    func show(_ id: String) async throws -> Response { Respond.json(bytes: try await view(id).json) }

    func list() async throws -> Response {
        let body = try await pool.run { store -> [UInt8] in
            let jobs = try store.recentJobs(limit: 20).compactMap { id -> [String: Any]? in
                guard let job = try store.job(id) else { return nil }
                return ["id": id, "status": job.status?.rawValue ?? "unknown", "ops": job.ops,
                        "progress": ["done": job.tilesDone, "total": job.tilesTotal], "page_url": JobView.Links(id).page]
            }
            return Array(try JSONSerialization.data(withJSONObject: ["jobs": jobs], options: [.sortedKeys, .withoutEscapingSlashes]))
        }
        return Respond.json(bytes: body)
    }

    /// Server-sent events: the job's JSON as a `progress` event whenever it
    /// changes, then `done`. Pushed: the stream wakes when the job changes
    /// (``JobWatch``), and sends a keep-alive comment on quiet ticks. It ends
    /// early when the server shuts down (the client follows up elsewhere).
    func events(_ id: String) async throws -> Response {
        _ = try await view(id)
        guard streams.enter() else {
            throw APIError.busy("\(config.maxEventStreams) event streams are open already; follow the job with GET /api/jobs/ID", retryAfter: 5)
        }
        let streams = self.streams
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let watch = self.watch
        let body = ResponseBody { [self] writer in
            let (wakes, stop) = watch.watch(id)
            defer { stop(); streams.leave() }
            var last: [UInt8] = []
            try await withGracefulShutdownHandler {
                for await _ in wakes {
                    guard let current = try? await view(id) else { break }
                    let json = current.json
                    if json != last {
                        try await writer.write(ByteBuffer(string: "event: progress\ndata: \(String(decoding: json, as: UTF8.self))\n\n"))
                        last = json
                    } else {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                    if JobStatus(rawValue: current.status)?.isFinal == true {
                        try await writer.write(ByteBuffer(string: "event: done\ndata: \(String(decoding: json, as: UTF8.self))\n\n"))
                        break
                    }
                }
            } onGracefulShutdown: {
                stop()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    static func links(_ id: String) -> [String: Any] {
        let links = JobView.Links(id)
        return ["id": id, "status_url": links.status, "result_url": links.result, "events_url": links.events, "page_url": links.page]
    }

    /// For each new submission that repeats a finished job whose result is
    /// still there, that job's id. The hash only finds the candidate: its
    /// original's bytes and its options are compared in full, so a crafted
    /// collision cannot hand anyone another upload's result.
    private func finishedJobs(_ submissions: [JobSubmission]) async throws -> [String: String] {
        let keeper = self.keeper, uploads = config.uploads
        return try await pool.run { store in
            var found: [String: String] = [:]
            for submission in submissions {
                guard let id = try store.sameUpload(submission.sameUploadDigest), let job = try store.job(id), job.status == .done,
                      ["ops", "format", "quality", "png_level", "metadata", "colorspace"].allSatisfy({ job.fields[$0] == submission.fields[$0] }) else { continue }
                // This server's copy of the original, or (stateless servers) Redis's.
                let original = uploads.appendingPathComponent("\(id).\(submission.format.fileExtension)")
                guard try FileManager.default.contents(atPath: original.path).map({ [UInt8]($0) }) ?? store.source(id) == submission.source
                else { continue }
                let kept = FileManager.default.fileExists(atPath: keeper.file(for: id, format: job.format).path)
                if try kept || store.result(id) != nil { found[submission.id] = id }
            }
            return found
        }
    }
}
