import Foundation
import ImageCodecs
import ImageCore
import TileStore

/// A round of whole jobs: small images, each decoded, processed and encoded
/// by the one rank that takes it, its own share first, then stealing from
/// the others (`take.lua`). The encoded results reach rank 0 with one
/// MPI_Gatherv for the round, so every image is still reduced by a gather,
/// while a stream of small images keeps every rank busy.
struct WholeRound {
    let rank: RankContext
    let jobs: [JobHeader]
    /// Names the round's lists in Redis.
    let consumer: String

    struct Result {
        var id: String
        var rank: Int
        /// Why the image could not be processed; nil when `bytes` is the result.
        var error: String?
        var bytes: [UInt8] = []
        /// Seconds to fetch the original, decode, process and encode.
        var seconds: [Double] = []
        static let phases = ["source", "decode", "process", "encode"]
    }

    /// Every result of the round at rank 0; [] elsewhere.
    func run() throws -> [Result] {
        let byID = Dictionary(jobs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var mine: [Result] = []
        while let taken = try retrying({ try rank.store.take(consumer: consumer, rank: rank.index, world: rank.world) }) {
            guard let header = byID[taken.id] else { continue }
            rank.heartbeat.setJob(header.id)
            rank.crashIfPoisoned(header)
            if rank.config.tileDelay > 0 && (rank.config.slowRank == nil || rank.index == rank.config.slowRank) {
                Thread.sleep(forTimeInterval: rank.config.tileDelay)
            }
            mine.append(try process(header))
            // The tile map (who did it) and progress.
            _ = try retrying { try rank.store.complete(id: header.id, rank: rank.index, outputs: [(0, [])]) }
        }
        rank.heartbeat.setJob("")

        var w = ByteWriter()
        for r in mine {
            w.text(r.id)
            w.text(r.error ?? "")
            w.data(r.bytes)
            for s in r.seconds { w.int(Int(s * 1_000_000)) }
        }
        let parts = try rank.cluster.gatherv(w.bytes)
        guard rank.isRoot else { return [] }
        var results: [Result] = []
        for (from, part) in parts.enumerated() {
            var r = ByteReader(part)
            while !r.isAtEnd {
                let id = try r.text(), error = try r.text(), bytes = try r.data()
                let seconds = try Result.phases.map { _ in Double(try r.int()) / 1_000_000 }
                results.append(Result(id: id, rank: from, error: error.isEmpty ? nil : error, bytes: bytes, seconds: seconds))
            }
        }
        return results
    }

    /// One job end to end, as `imgproc process` does it.
    private func process(_ header: JobHeader) throws -> Result {
        var result = Result(id: header.id, rank: rank.index)
        var clock = Date()
        func lap() -> Double {
            defer { clock = Date() }
            return Date().timeIntervalSince(clock)
        }
        guard let source = try retrying({ try rank.store.source(header.id) }) else {
            result.error = "its original is no longer in Redis"
            result.seconds = [Double](repeating: 0, count: Result.phases.count)
            return result
        }
        result.seconds.append(lap())
        do {
            let image = try Codec.decode(source, limits: DecodeLimits(maxPixels: .max)).image
            result.seconds.append(lap())
            let output = Runner.reference(image, plan: try header.plan(maxPixels: .max))
            result.seconds.append(lap())
            result.bytes = try Codec.encode(output, as: ImageFormat(rawValue: header.format) ?? .png,
                                            quality: rank.config.jpegQuality)
            result.seconds.append(lap())
        } catch {
            result.error = "\(error)"
            result.seconds += [Double](repeating: 0, count: Result.phases.count - result.seconds.count)
        }
        return result
    }
}
