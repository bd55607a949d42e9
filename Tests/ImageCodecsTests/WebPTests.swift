import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport

@Suite("WebP")
struct WebPTests {
    static let corpus = packageRoot.appendingPathComponent("Tests/Fuzz/corpus/webp")

    /// Lossy output reads back close to the input, with its alpha; gray is written as RGB.
    @Test(arguments: [1, 2, 3, 4])
    func roundTripIsClose(_ channels: Int) throws {
        let image = testImage(width: 67, height: 45, channels: channels, seed: 5)
        let encoded = try Codec.encode(image, as: .webp, quality: 95)
        #expect(try Codec.probe(encoded).format == .webp)
        let (back, format) = try Codec.decode(encoded)
        #expect(format == .webp && back.width == 67 && back.height == 45)
        #expect(back.channels == (channels % 2 == 0 ? 4 : 3))
        #expect(try Codec.checkComplete(encoded, format: .webp) == ())
        // Noise is the worst case for a lossy codec: only the mean error is bounded.
        var error = 0.0
        for i in 0..<(67 * 45) {
            for c in 0..<back.channels {
                let source = image.pixels[i * channels + (channels < 3 ? (c == 3 ? 1 : 0) : c)]
                error += abs(Double(source) - Double(back.pixels[i * back.channels + c]))
            }
        }
        #expect(error / Double(67 * 45 * back.channels) < 40, "mean error \(error / Double(67 * 45 * back.channels))")
    }

    /// Files written by Pillow's libwebp decode within ±1 of Pillow's pixels
    /// (lossless ones exactly), and by bands equal to the whole.
    @Test func pillowsFilesDecodeAsPillowReadsThem() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(".webp") }.sorted()
        #expect(files.count >= 4)
        for name in files {
            let bytes = [UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent(name)))
            let (image, format) = try Codec.decode(bytes)
            #expect(format == .webp, "\(name)")
            let decoder = try RowDecoder(SourceBytes(bytes))
            try decoder.skip(3)
            #expect(try decoder.readRow() == Array(image.pixels[(3 * image.width * image.channels)..<(4 * image.width * image.channels)]))
            let script = "import sys; from PIL import Image; print(Image.open(sys.argv[1]).convert(sys.argv[2]).tobytes().hex())"
            let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, Self.corpus.appendingPathComponent(name).path,
                                                               image.channels == 4 ? "RGBA" : "RGB"])
            try #require(r.status == 0, "Pillow: \(r.stderr)")
            let hex = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let theirs = stride(from: 0, to: hex.count - 1, by: 2).compactMap { UInt8(hex.dropFirst($0).prefix(2), radix: 16) }
            #expect(theirs.count == image.pixels.count, "\(name)")
            let worst = zip(theirs, image.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
            // Lossless files decode to the same bytes; lossy ones within ±1 (libwebp versions differ in rounding).
            #expect(worst <= (name.contains("lossless") ? 0 : 1), "\(name): off by up to \(worst)")
        }
    }

    @Test func animatedAndTruncatedFilesAreRefused() throws {
        let good = try Codec.encode(testImage(width: 20, height: 10, channels: 3, seed: 1), as: .webp)
        let cut = Array(good.prefix(good.count - 10))
        #expect(throws: CodecError.self) { try Codec.checkComplete(cut, format: .webp) }
        #expect(throws: CodecError.self) { try Codec.decode(cut) }
        // VP8X with the animation flag set.
        let animated = Array("RIFF".utf8) + [30, 0, 0, 0] + Array("WEBPVP8X".utf8) + [10, 0, 0, 0, 0x02, 0, 0, 0, 19, 0, 0, 9, 0, 0]
            + Array("ANIM".utf8) + [6, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        let error = #expect(throws: CodecError.self) { try Codec.probe(animated) }
        #expect(error?.code == .unsupported, "\(error?.message ?? "")")
        let wide = Image(width: 16_384, height: 1, channels: 3, value: 0)
        #expect(throws: CodecError.self) { try Codec.encode(wide, as: .webp) }
    }

    /// A WebP result keeps the profile (and EXIF, XMP when asked) in its extended layout.
    @Test func metadataGoesIntoVP8X() throws {
        for channels in [3, 4] {
            let plain = try Codec.encode(testImage(width: 20, height: 10, channels: channels, seed: 2), as: .webp)
            let metadata = Metadata(icc: fakeProfile(size: 1001, seed: 1), exif: [0x49, 0x49, 42, 0, 8, 0, 0, 0, 0, 0], xmp: Array("<x/>".utf8))
            let with = try metadata.written(into: plain)
            #expect(Metadata.read(with) == metadata)
            #expect(with[12..<16].elementsEqual("VP8X".utf8) && with[20] & 0x2C == 0x2C)
            #expect(try Codec.decode(with).image == Codec.decode(plain).image)
            #expect(try Codec.checkComplete(with, format: .webp) == ())
        }
    }
}
