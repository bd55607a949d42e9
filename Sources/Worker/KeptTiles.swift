import Foundation
import ImageCodecs
import ImageCore

/// What a rank keeps of the tiles it processed: their pixels, or, for a last
/// stage cut in strips that are whole bands of the output's encoding (16-row
/// MCU rows of JPEG, ``PNGBands`` segments of PNG), each strip encoded at
/// once (``JPEGBands``, ``PNGBands``): the rank then holds compressed bytes
/// only, and stealing balances the encoding too.
final class KeptTiles {
    /// How strips are encoded as they are made.
    struct Encoding {
        let output: OutputEncoding
        /// The shape of the image the strips are cut from.
        let shape: Shape
    }

    /// nil: tiles are kept as pixels.
    let encoding: Encoding?
    private(set) var regions: [Int: Region] = [:]
    /// Encoded strips.
    private(set) var bands: [EncodedBand] = []
    private(set) var encodeSeconds = 0.0

    /// Set for a stage whose output only feeds clahe's histograms (the next
    /// stage makes it again, ``RemadeInput``): each tile is added to these
    /// sums once and not kept.
    private let summing: (settings: ClaheSettings, shape: Shape)?
    private(set) var sums: [UInt32]?
    private var summed = Set<Int>()

    init(encoding: Encoding? = nil) {
        self.encoding = encoding
        summing = nil
    }

    init(summing settings: ClaheSettings, of shape: Shape) {
        encoding = nil
        summing = (settings, shape)
        sums = [UInt32](repeating: 0, count: settings.histogramCount)
    }

    /// How a stage's last output can go out as bands: JPEG or PNG, no global
    /// step after it, full-width strips starting on the encoding's band rows.
    static func encoding(_ stage: Stage, tiling: Tiling, output: OutputEncoding) -> Encoding? {
        guard EncodedBand.joins(output.format), stage.finish == nil, let rows = tiling.stripRows,
              rows % EncodedBand.step(output.format, shape: stage.output) == 0 else { return nil }
        return Encoding(output: output, shape: stage.output)
    }

    func keep(_ index: Int, _ region: Region) throws(CodecError) {
        if let summing {
            guard summed.insert(index).inserted else { return }
            summing.settings.add(region, imageShape: summing.shape, to: &sums!)
            return
        }
        guard let encoding else {
            regions[index] = region
            return
        }
        let start = Date()
        bands.append(try EncodedBand(region.image, y: region.y, of: encoding.shape, as: encoding.output))
        encodeSeconds += Date().timeIntervalSince(start)
    }

    /// The encoded bands, handed over (the rank no longer holds them).
    func takeBands() -> [EncodedBand] {
        defer { bands = [] }
        return bands
    }

    /// The kept regions, handed over (the rank no longer holds them).
    func takeRegions() -> [Int: Region] {
        defer { regions = [:] }
        return regions
    }
}
