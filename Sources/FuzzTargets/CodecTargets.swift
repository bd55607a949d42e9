import ImageCodecs
import ImageCore

/// Decoding as the server and the workers do it: the server probes the
/// header and checks the file is complete; a worker decodes bands of rows
/// (``RowCache``); the CLI decodes whole.
enum CodecTargets {
    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    static let jpegStart: [UInt8] = [0xFF, 0xD8, 0xFF]
    /// Small enough for thousands of runs a second, large enough for real files.
    static let limits = DecodeLimits(maxPixels: 1 << 18)

    static func png(_ data: [UInt8]) { decodeEveryWay(data.starts(with: pngSignature) ? data : pngSignature + data) }

    static func jpeg(_ data: [UInt8]) { decodeEveryWay(data.starts(with: jpegStart) ? data : jpegStart + data) }

    /// An ftyp box naming AVIF goes first unless the data has one.
    static func avif(_ data: [UInt8]) {
        let ftyp: [UInt8] = [0, 0, 0, 16] + Array("ftypavif\0\0\0\0".utf8)
        decodeEveryWay(data.count > 12 && data[4..<8].elementsEqual("ftyp".utf8) ? data : ftyp + data)
    }

    /// RIFF's size field is rewritten to the data's, or nearly every input would be refused as truncated.
    static func webp(_ data: [UInt8]) {
        var bytes = data.starts(with: Array("RIFF".utf8)) && data.count >= 12 ? data : Array("RIFF\0\0\0\0WEBP".utf8) + data
        let size = bytes.count - 8
        bytes.replaceSubrange(4..<8, with: [UInt8(size & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size >> 16 & 0xFF), UInt8(size >> 24 & 0xFF)])
        decodeEveryWay(bytes)
    }

    static func decodeEveryWay(_ bytes: [UInt8]) {
        let metadata = Metadata.read(bytes)
        _ = Orientation.of(bytes)
        guard let info = try? Codec.probe(bytes), (try? limits.check(info)) != nil else { return }
        _ = try? Codec.checkComplete(bytes, format: info.format)
        let whole = try? Codec.decode(bytes, limits: limits).image
        if let whole {
            precondition(whole.shape == Shape(width: info.width, height: info.height, channels: info.channels),
                         "decoded \(whole.shape), header says \(info.width)x\(info.height)x\(info.channels)")
        }
        bands(bytes, info: info, whole: whole)
        if info.format == .jpeg { shrunkBands(bytes) }
        if let whole { roundTrip(whole, as: info.format, metadata: metadata.kept(.all, upright: true)) }
    }

    /// The lower half first, then the upper half (a second decoder that
    /// skips), as a rank that steals a tile above its band does.
    static func bands(_ bytes: [UInt8], info: ImageInfo, whole: Image?) {
        guard let cache = try? RowCache(SourceBytes(bytes), limits: limits) else { return }
        let half = info.height / 2
        let lower = Rect(x: 0, y: half, width: info.width, height: info.height - half)
        let upper = Rect(x: 0, y: 0, width: info.width, height: half)
        for rect in [lower, upper] where rect.height > 0 {
            guard let region = try? cache.region(rect) else { return }
            if let whole { precondition(region.image == whole.cropped(to: rect), "rows \(rect) differ from the whole decode") }
            cache.drop(outside: rect.rows)
        }
    }

    /// A JPEG shrunk on load by 4: the lower half's rows, read after a skip,
    /// equal those of the whole shrunk decode.
    static func shrunkBands(_ bytes: [UInt8]) {
        guard let whole = try? Codec.decode(bytes, limits: limits, shrink: 4).image,
              let decoder = try? RowDecoder(SourceBytes(bytes), limits: limits, shrink: 4) else { return }
        let half = whole.height / 2, rowBytes = whole.width * whole.channels
        guard (try? decoder.skip(half)) != nil, let row = try? decoder.readRow() else { return }
        precondition(row == Array(whole.pixels[(half * rowBytes)..<((half + 1) * rowBytes)]), "a shrunk row after a skip differs")
    }

    /// What the codec decodes, it encodes, with the source's metadata in it;
    /// PNG gives back the same pixels, and the profile reads back.
    static func roundTrip(_ image: Image, as format: ImageFormat, metadata: Metadata) {
        guard let plain = try? Codec.encode(image, as: format) else { preconditionFailure("cannot encode a decoded \(image.shape)") }
        guard let encoded = try? metadata.written(into: plain) else { preconditionFailure("cannot write the metadata read") }
        guard let again = try? Codec.decode(encoded, limits: limits).image else { preconditionFailure("cannot decode what was encoded") }
        precondition(again.shape.width == image.width && again.shape.height == image.height, "size changed in a round trip")
        if format == .png { precondition(again == image, "PNG round trip changed pixels") }
        // AVIF results carry no metadata (libavif writes it while encoding only).
        if let icc = metadata.icc, icc.count < 60_000, format != .avif { precondition(Metadata.read(encoded).icc == icc, "the profile did not read back") }
    }
}
