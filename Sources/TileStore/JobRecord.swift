import ImageCore

/// Where a job is: what users see in the CLI, the API and redis-cli.
public enum JobStatus: String, Sendable, CaseIterable {
    case queued, running, done, failed

    /// Done or failed: the job will not change again.
    public var isFinal: Bool { self == .done || self == .failed }
}

/// A job's hash, read from Redis.
public struct JobRecord: Sendable {
    public let id: String
    public let fields: [String: String]

    /// - Parameters:
    ///   - id: the job.
    ///   - fields: its hash, as Redis holds it.
    public init(id: String, fields: [String: String]) {
        self.id = id
        self.fields = fields
    }

    public var status: JobStatus? { fields["status"].flatMap(JobStatus.init) }
    public func int(_ name: String) -> Int? { fields[name].flatMap { Int($0) } }
    public var ops: String { fields["ops"] ?? "" }
    public var tilesTotal: Int { int("tiles_total") ?? 0 }
    public var tilesDone: Int { int("tiles_done") ?? 0 }
    public var attempts: Int { int("attempts") ?? 0 }
    public var world: Int { int("world") ?? 0 }
    /// Of a tiled job from its original: the most decoded rows of it any rank held at once.
    public var rowsHeld: Int? { int("rows_held") }
    /// Of a tiled job from its original: the most rows of it any rank's decoders went through (decoded or skipped).
    public var rowsRead: Int? { int("rows_read") }
    public var mpiBytes: Int? { int("mpi_bytes") }
    public var stage: Int { int("stage") ?? 0 }
    /// How each stage is cut: `tile_size` holds `256` (squares) or `strips:64`.
    public var tiling: Tiling? { fields["tile_size"].flatMap(Tiling.init) }
    /// Whether the job runs whole on one rank (every stage is one tile).
    public var runsWhole: Bool { fields["whole"] == "1" }
    public var isFinished: Bool { status?.isFinal ?? false }
    public var error: String? { fields["error"] }
    public var inputShape: Shape? {
        guard let w = int("width"), let h = int("height"), let c = int("channels") else { return nil }
        return Shape(width: w, height: h, channels: c)
    }
    public var outputShape: Shape? {
        guard let w = int("output_width"), let h = int("output_height"), let c = int("output_channels") else { return nil }
        return Shape(width: w, height: h, channels: c)
    }
    public var stages: Int { int("stages") ?? 1 }
    /// The result's format name (`png`, `jpeg`, `webp`, `avif`).
    public var format: String? { fields["format"] }
    /// The result's quality, when the upload asked for one.
    public var quality: Int? { int("quality") }
    /// The result's PNG deflate level, when the upload asked for one.
    public var pngLevel: Int? { int("png_level") }
    /// The server keeps the result on disk (``TileStore/markStored(_:)``); Redis's copy is gone.
    public var isStored: Bool { fields["stored"] == "1" }
    /// The EXIF orientation the upload carried (1: upright or none), when recorded.
    public var orientation: Int? { int("orientation") }
    /// Whether the orientation is applied (`autorotate`, on unless the upload said false).
    public var autorotates: Bool { fields["autorotate"] != "0" }
    /// What the result keeps of the source's metadata (a `Metadata.Policy` name), when recorded.
    public var metadataPolicy: String? { fields["metadata"] }
    /// The pixels are converted to sRGB (`colorspace=srgb`).
    public var toSRGB: Bool { fields["colorspace"] == "srgb" }
    /// The JPEG is decoded shrunk by this factor (shrink-on-load).
    public var shrinkOnLoad: Int { int("shrink_on_load") ?? 1 }
    public var maxPixels: Int? { int("max_pixels") }
    /// Milliseconds since the epoch of `created_at`, `started_at`, `finished_at`.
    public var createdAt: Int? { int("created_at") }
    public var startedAt: Int? { int("started_at") }
    public var finishedAt: Int? { int("finished_at") }
    /// Why the world running it last stopped, when it was resumed.
    public var lastInterruption: String? { fields["last_interruption"] }
    /// The phases the ranks recorded (`t_NAME_ms` fields), in milliseconds by name.
    public var timings: [String: Int] {
        var timings: [String: Int] = [:]
        for (k, v) in fields where k.hasPrefix("t_") && k.hasSuffix("_ms") {
            if let ms = Int(v) { timings[String(k.dropFirst(2).dropLast(3))] = ms }
        }
        return timings
    }
}

extension StageTile {
    /// Stream fields: `index i core x,y,w,h halo x,y,w,h`.
    var fields: [RedisArgument] {
        ["index", .int(index), "core", .text(Self.text(core)), "halo", .text(Self.text(halo))]
    }

    static func text(_ r: Rect) -> String { "\(r.x),\(r.y),\(r.width),\(r.height)" }

    static func rect(_ bytes: [UInt8]?) -> Rect? {
        guard let bytes else { return nil }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: ",").compactMap { Int($0) }
        return parts.count == 4 ? Rect(x: parts[0], y: parts[1], width: parts[2], height: parts[3]) : nil
    }

    init(reply: RedisReply) throws(RedisError) {
        let f = reply.fields
        guard let i = f["index"].flatMap({ Int(String(decoding: $0, as: UTF8.self)) }),
              let core = Self.rect(f["core"]), let halo = Self.rect(f["halo"]) else {
            throw RedisError(.protocolError, "malformed tile entry")
        }
        self.init(index: i, core: core, halo: halo)
    }
}
