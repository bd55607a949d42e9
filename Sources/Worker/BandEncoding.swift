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
    let format: ImageFormat
    let quality: Int

    /// Whether an output in `format` can be encoded in bands.
    static func encodes(_ format: ImageFormat) -> Bool { format == .jpeg || format == .png }

    /// Rows a band starts at a multiple of.
    static func step(_ format: ImageFormat, shape: Shape) -> Int {
        format == .png ? PNGBands.segmentRows(width: shape.width, channels: shape.channels) : JPEGBands.rowAlignment
    }

    /// Each rank's rows: the image cut at multiples of `step` rows, as evenly
    /// as that allows (empty when there are more ranks than strips).
    static func bands(height: Int, world: Int, step: Int = JPEGBands.rowAlignment) -> [Range<Int>] {
        let strips = (height + step - 1) / step
        return (0..<world).map { r in
            let lower = min(height, step * (strips * r / world))
            let upper = r == world - 1 ? height : min(height, step * (strips * (r + 1) / world))
            return lower..<upper
        }
    }

    struct Outcome {
        /// The image's JPEG, at rank 0.
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
        let bands = Self.bands(height: shape.height, world: cluster.size, step: Self.step(format, shape: shape))
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
        var w = ByteWriter(capacity: band.pixels.count / 2 + 64)
        w.int(mine.lowerBound)
        do {
            if mine.isEmpty {
                w.text("")
                w.data([])
            } else if format == .png {
                let compressed = try PNGBands.compress(band, y: mine.lowerBound, imageHeight: shape.height)
                w.text("")
                w.data(compressed.data)
                w.int(Int(compressed.adler))
                w.int(compressed.filteredCount)
            } else {
                let encoded = try Codec.encode(band, as: .jpeg, quality: quality)
                w.text("")
                w.data(encoded)
            }
        } catch {
            w.text("\(error)")
            w.data([])
        }
        band = Image(width: 0, height: 0, channels: shape.channels)
        outcome.encodeSeconds += Date().timeIntervalSince(clock)

        clock = Date()
        let parts = try cluster.gatherv(w.bytes)
        outcome.exchangeSeconds += Date().timeIntervalSince(clock)
        guard cluster.rank == 0 else { return outcome }

        clock = Date()
        var jpegs: [(y: Int, bytes: [UInt8])] = []
        var pngs: [PNGBands.Band] = []
        for (r, part) in parts.enumerated() {
            var reader = ByteReader(part)
            let y = try reader.int(), why = try reader.text(), bytes = try reader.data()
            if !why.isEmpty { outcome.failure = why }
            guard !bytes.isEmpty else { continue }
            if format == .png {
                let adler = UInt32(truncatingIfNeeded: try reader.int()), count = try reader.int()
                pngs.append(PNGBands.Band(y: y, rows: bands[r].count, data: bytes, adler: adler, filteredCount: count))
            } else {
                jpegs.append((y, bytes))
            }
        }
        if outcome.failure == nil {
            do {
                outcome.bytes = format == .png
                    ? try PNGBands.join(pngs.sorted { $0.y < $1.y }, width: shape.width, height: shape.height, channels: shape.channels)
                    : try JPEGBands.join(jpegs.sorted { $0.y < $1.y }, height: shape.height)
            } catch {
                outcome.failure = "\(error)"
            }
        }
        outcome.encodeSeconds += Date().timeIntervalSince(clock)
        return outcome
    }
}
