import Foundation
import ImageCodecs
import ImageCore

/// What a rank pays to get its band of a JPEG: a full decode, the top half,
/// and the bottom half after skipping the top (entropy-decoded, not converted).
enum DecodeBench {
    static func run(jpeg: [UInt8]) throws {
        let source = SourceBytes(jpeg)
        let info = try Codec.probe(jpeg)
        let half = info.height / 2
        let full = best(of: 3) { _ = try? Codec.decode(jpeg) }
        let top = best(of: 3) { _ = try? RowCache(source).load(0..<half) }
        let bottom = best(of: 3) { _ = try? RowCache(source).load(half..<info.height) }
        let skip = best(of: 3) { _ = try? RowDecoder(source).skip(half) }
        print(String(format: "\nJPEG decoding, %dx%d (%.1f MB file): whole %.3f s; top half %.3f s; bottom half %.3f s (of which skipping the top %.3f s)",
                     info.width, info.height, Double(jpeg.count) / 1e6, full, top, bottom, skip))
    }
}
