import Foundation
import ImageCodecs
import ImageCore
import TileStore

/// What rank 0 broadcasts to every rank: run a tiled job, run a round of
/// whole jobs, give freed memory back (the queue went quiet), or stop.
struct Command: Codable {
    enum Kind: String, Codable { case tiled, round, trim, stop }
    var kind: Kind
    /// The tiled job, or the round's jobs.
    var jobs: [JobHeader] = []
    /// The stage a tiled job starts at (above 0 when resumed with --durable-tiles).
    var stage = 0
    /// Names the round's lists in Redis (rank 0's consumer name, the same on every host).
    var consumer = ""

    static let stop = Command(kind: .stop)
    static let trim = Command(kind: .trim)

    var bytes: [UInt8] { Array((try? JSONEncoder().encode(self)) ?? Data()) }

    init(kind: Kind, jobs: [JobHeader] = [], stage: Int = 0, consumer: String = "") {
        self.kind = kind
        self.jobs = jobs
        self.stage = stage
        self.consumer = consumer
    }

    init(bytes: [UInt8]) throws {
        self = try JSONDecoder().decode(Command.self, from: Data(bytes))
    }
}

/// What every rank needs to know of a job to work on it.
struct JobHeader: Codable {
    var id: String
    var ops: String
    var shape: [Int]
    /// The result's format, and its quality and PNG level when the job chose them.
    var format: String
    var quality: Int?
    var pngLevel: Int?
    var tile: String
    /// What the result keeps of the source's metadata, and whether the
    /// pipeline set the source upright by its EXIF orientation.
    var metadata: String
    var upright: Bool
    /// Pixels converted to sRGB through the source's profile while decoding.
    var toSRGB: Bool
    /// A JPEG source decoded shrunk by this factor (``ShrinkOnLoad``).
    var shrink: Int
    /// The pixel limit the job was submitted under (the server's --max-megapixels).
    var maxPixels = 100_000_000

    /// Nil when the record lacks what a job needs.
    init?(_ job: JobRecord) {
        guard let input = job.inputShape, let tiling = job.tiling else { return nil }
        id = job.id
        ops = job.ops
        shape = [input.width, input.height, input.channels]
        format = job.format ?? "png"
        quality = job.quality
        pngLevel = job.pngLevel
        tile = tiling.description
        metadata = job.metadataPolicy ?? Metadata.Policy.profile.rawValue
        upright = job.autorotates && (job.orientation ?? 1) != 1
        toSRGB = job.toSRGB
        shrink = job.shrinkOnLoad
        maxPixels = job.maxPixels ?? maxPixels
    }

    var input: Shape { Shape(width: shape[0], height: shape[1], channels: shape[2]) }

    /// How the result is written; `quality` when the job chose none.
    func output(defaultQuality quality: Int) -> OutputEncoding {
        OutputEncoding(format: ImageFormat(rawValue: format) ?? .png, quality: self.quality ?? quality,
                       pngLevel: pngLevel ?? PNGBands.defaultLevel)
    }
    var tiling: Tiling { Tiling(tile) ?? .squares(256) }

    /// `encoded` with what the job keeps of `source`'s metadata.
    func keepingMetadata(of source: [UInt8], in encoded: [UInt8]) throws(CodecError) -> [UInt8] {
        try keeping(Metadata.read(source), in: encoded)
    }

    /// The same from metadata read before: ranks let the original go once it is sent.
    func keeping(_ read: Metadata, in encoded: [UInt8]) throws(CodecError) -> [UInt8] {
        try read.kept(Metadata.Policy(rawValue: metadata) ?? .profile, upright: upright, inSRGB: toSRGB).written(into: encoded)
    }

    func plan() throws -> Plan {
        try Plan(try Pipeline(parsing: ops), input: input, maxPixels: maxPixels)
    }
}
