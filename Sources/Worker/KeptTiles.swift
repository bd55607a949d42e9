import Foundation
import ImageCodecs
import ImageCore

/// What a rank keeps of the tiles it processed: their pixels, or, for a last
/// stage cut in strips of whole 16-row bands with JPEG output, each strip
/// encoded at once as a JPEG band (``JPEGBands``): the rank then holds
/// compressed bytes only, and stealing balances the encoding too.
final class KeptTiles {
    /// JPEG quality when strips are encoded as they are made.
    let bandQuality: Int?
    private(set) var regions: [Int: Region] = [:]
    /// Encoded strips by first row.
    private(set) var bands: [Int: [UInt8]] = [:]
    private(set) var encodeSeconds = 0.0

    init(bandQuality: Int? = nil) { self.bandQuality = bandQuality }

    /// Whether a stage's last output can go out as bands: JPEG, no global
    /// step after it, full-width strips starting on MCU rows.
    static func encodesBands(_ stage: Stage, tiling: Tiling, format: ImageFormat) -> Bool {
        guard format == .jpeg, stage.finish == nil, let rows = tiling.stripRows else { return false }
        return rows % JPEGBands.rowAlignment == 0
    }

    func keep(_ index: Int, _ region: Region) throws(CodecError) {
        guard let quality = bandQuality else {
            regions[index] = region
            return
        }
        let start = Date()
        bands[region.y] = try Codec.encode(region.image, as: .jpeg, quality: quality)
        encodeSeconds += Date().timeIntervalSince(start)
    }

    /// The kept regions, handed over (the rank no longer holds them).
    func takeRegions() -> [Int: Region] {
        defer { regions = [:] }
        return regions
    }
}
