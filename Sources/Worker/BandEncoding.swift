import Foundation
import ImageCodecs
import ImageCore

/// A stage's output encoded as JPEG or PNG in horizontal bands, one per
/// rank, and joined at rank 0 (``JPEGBands``, ``PNGBands``): the ranks encode
/// in parallel and what is gathered is compressed bytes, byte for byte the
/// whole image's encoding.
///
/// Each rank's band is a run of full rows starting at a multiple of 16
/// (JPEG) or of the PNG segment rows; the pieces of tiles that lie in another
/// rank's band go to it first (MPI_Alltoallv). Tiles are dealt in contiguous
/// blocks, so most of a band is usually the rank's own tiles already.
struct BandEncoding {
    let cluster: ClusterLink
    let output: OutputEncoding

    /// Each rank's rows: the image cut at multiples of `step` rows, as evenly
    /// as that allows (empty when there are more ranks than strips).
    static func bands(height: Int, world: Int, step: Int) -> [Range<Int>] {
        let strips = (height + step - 1) / step
        return (0..<world).map { r in
            let lower = min(height, step * (strips * r / world))
            let upper = r == world - 1 ? height : min(height, step * (strips * (r + 1) / world))
            return lower..<upper
        }
    }

    struct Outcome {
        /// The encoded image, at rank 0.
        var bytes: [UInt8]?
        /// Why a band could not be encoded (at rank 0).
        var failure: String?
        var exchangeSeconds = 0.0
        var encodeSeconds = 0.0
    }

    /// Encodes the image whose tiles the ranks hold in `held` (emptied).
    func run(_ held: inout [Int: Region], shape: Shape) throws -> Outcome {
        var outcome = Outcome()
        var clock = Date()
        let bands = Self.bands(height: shape.height, world: cluster.size, step: EncodedBand.step(output.format, shape: shape))
        let mine = bands[cluster.rank]
        // Not zero-filled: the tiles cover every pixel of the band.
        var band = Image(width: shape.width, height: mine.count, channels: shape.channels) { _ in }
        var outgoing = [[Region]](repeating: [], count: cluster.size)
        for region in held.values {
            for (r, rows) in bands.enumerated() {
                let lower = max(rows.lowerBound, region.y), upper = min(rows.upperBound, region.y + region.image.height)
                guard lower < upper else { continue }
                let piece = Rect(x: 0, y: lower - region.y, width: region.image.width, height: upper - lower)
                if r == cluster.rank {
                    band.paste(region.image, from: piece, atX: region.x, y: lower - mine.lowerBound)
                } else {
                    outgoing[r].append(Region(image: region.image.cropped(to: piece), x: region.x, y: lower))
                }
            }
        }
        held.removeAll()
        let received = try cluster.alltoallv(outgoing.map(\.packed))
        outgoing.removeAll()
        for part in received {
            for piece in try [Region](unpacking: part) { band.paste(piece.image, atX: piece.x, y: piece.y - mine.lowerBound) }
        }
        outcome.exchangeSeconds += Date().timeIntervalSince(clock)

        clock = Date()
        // Each rank sends why its band failed (empty when it did not) and the band.
        var w = ByteWriter(capacity: band.pixels.count / 2 + 64)
        if !mine.isEmpty {
            do {
                let encoded = try EncodedBand(band, y: mine.lowerBound, of: shape, as: output)
                w.text("")
                encoded.write(to: &w)
            } catch {
                w.text("\(error)")
            }
        }
        band = Image(width: 0, height: 0, channels: shape.channels)
        outcome.encodeSeconds += Date().timeIntervalSince(clock)

        clock = Date()
        let parts = try cluster.gatherv(w.bytes)
        outcome.exchangeSeconds += Date().timeIntervalSince(clock)
        guard cluster.rank == 0 else { return outcome }

        clock = Date()
        var pieces: [EncodedBand] = []
        for part in parts where !part.isEmpty {
            var reader = ByteReader(part)
            let why = try reader.text()
            if why.isEmpty { pieces.append(try EncodedBand(from: &reader)) } else { outcome.failure = why }
        }
        if outcome.failure == nil {
            do { outcome.bytes = try EncodedBand.join(pieces, shape: shape, pngLevel: output.pngLevel) } catch {
                outcome.failure = "\(error)"
            }
        }
        outcome.encodeSeconds += Date().timeIntervalSince(clock)
        return outcome
    }
}
