import Foundation
import ImageCodecs
import ImageCore

/// A stage's output encoded as JPEG or PNG in horizontal bands, one per
/// rank, each written into the result by its rank (``PlacedBands``,
/// ``JPEGBands``, ``PNGBands``): the ranks encode in parallel, byte for byte
/// the whole image's encoding.
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
        var exchangeSeconds = 0.0
        var encodeSeconds = 0.0
    }

    /// Encodes this rank's band of the image whose tiles the ranks hold in `held` (emptied), into `placed`.
    func run(_ held: inout [Int: Region], shape: Shape, into placed: PlacedBands) throws -> Outcome {
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
        if !mine.isEmpty {
            do { placed.add(try EncodedBand(band, y: mine.lowerBound, of: shape, as: output)) } catch {
                placed.fail("\(error)")
            }
        }
        band = Image(width: 0, height: 0, channels: shape.channels)
        outcome.encodeSeconds += Date().timeIntervalSince(clock)
        return outcome
    }
}
