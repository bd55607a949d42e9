import Foundation
import ImageCodecs
import ImageCore

/// A job's result written into Redis in place by the ranks that encoded
/// its bands (``TileStore/placeBand(_:y:at:_:)``): rank 0 gathers only the
/// bands' summaries, frames the result (head, bands in order, tail) and
/// tells each band's place; `finish.lua` adds the head and tail. No rank
/// holds the encoded result whole, and it does not cross MPI.
final class PlacedBands {
    let shape: Shape
    private let put: (_ y: Int, _ offset: Int, _ bytes: [UInt8]) throws -> Void
    private let reserve: (_ length: Int) throws -> Void
    /// This rank's bands as they stand in the result, until they are placed.
    private var bodies: [(y: Int, bytes: [UInt8])] = []
    private var summaries: [EncodedBand.Summary] = []
    /// Why a band of this rank could not be made.
    private(set) var failure: String?
    /// Time spent writing bands into Redis.
    private(set) var storeSeconds = 0.0

    /// - Parameters:
    ///   - shape: the result's.
    ///   - reserve: at rank 0, makes room for the bands (they end at byte `length`),
    ///     so that they are not written into a string that keeps growing.
    ///   - put: writes a band's bytes, starting at row `y`, at `offset` of the result.
    init(shape: Shape, reserve: @escaping (_ length: Int) throws -> Void,
         put: @escaping (_ y: Int, _ offset: Int, _ bytes: [UInt8]) throws -> Void) {
        self.shape = shape
        self.reserve = reserve
        self.put = put
    }

    /// Adds `band`; one that cannot be cut (not an encoder's output) becomes this rank's failure.
    func add(_ band: EncodedBand) {
        do {
            let (body, summary) = try band.parted(imageHeight: shape.height)
            bodies.append((band.y, body))
            summaries.append(summary)
        } catch {
            failure = "\(error)"
        }
    }

    func fail(_ why: String) { failure = why }

    /// How rank 0 ends the job: the result's frame, or why it cannot be made.
    enum Joining {
        case frame(EncodedBand.Frame)
        case failed(String)
    }

    /// Every rank's summaries are framed at rank 0 (`head` turns the frame's
    /// head into the result's: metadata goes there), then each rank writes
    /// its bands where the frame puts them. The frame at rank 0, nil on the others.
    func place(_ cluster: ClusterLink, head: ([UInt8]) throws -> [UInt8]) throws -> Joining? {
        var w = ByteWriter(capacity: 64 + summaries.count * 48)
        w.text(failure ?? "")
        w.int(summaries.count)
        for summary in summaries { summary.write(to: &w) }
        let parts = try cluster.gatherv(w.bytes)
        var joining: Joining?
        // Where each band starts in the result, sent by rank 0; none when there is no result.
        var places = ByteWriter()
        if cluster.rank == 0 {
            joining = try frame(parts, head: head)
            if case let .frame(frame)? = joining {
                var offset = frame.head.count
                for (y, count) in zip(frame.rows, frame.counts) {
                    places.int(y)
                    places.int(offset)
                    offset += count
                }
                try reserve(offset)
            }
        }
        var r = ByteReader(try cluster.broadcast(places.bytes))
        var offsets: [Int: Int] = [:]
        while !r.isAtEnd { offsets[try r.int()] = try r.int() }
        for (y, bytes) in bodies {
            guard let offset = offsets[y] else { continue }
            let clock = Date()
            try put(y, offset, bytes)
            storeSeconds += Date().timeIntervalSince(clock)
        }
        bodies = []
        return joining
    }

    private func frame(_ parts: [[UInt8]], head: ([UInt8]) throws -> [UInt8]) throws -> Joining {
        var all: [EncodedBand.Summary] = []
        for part in parts {
            var r = ByteReader(part)
            let why = try r.text()
            if !why.isEmpty { return .failed(why) }
            for _ in 0..<max(0, try r.int()) { all.append(try EncodedBand.Summary(from: &r)) }
        }
        do {
            var frame = try EncodedBand.frame(all, shape: shape)
            frame.head = try head(frame.head)
            return .frame(frame)
        } catch {
            return .failed("\(error)")
        }
    }
}
