import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport

@Suite("AVIF")
struct AVIFTests {
    static let corpus = packageRoot.appendingPathComponent("Tests/Fuzz/corpus/avif")

    func meanError(_ a: [UInt8], _ b: [UInt8]) -> Double {
        Double(zip(a, b).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(max(1, a.count))
    }

    /// Output reads back close to the input, with its alpha; gray is written as RGB.
    @Test(arguments: [1, 2, 3, 4])
    func roundTripIsClose(_ channels: Int) throws {
        // Smooth content: AV1 at quality 90 keeps it within a few levels.
        let image = Image(width: 67, height: 45, channels: channels) { p in
            for y in 0..<45 { for x in 0..<67 { for c in 0..<channels { p[(y * 67 + x) * channels + c] = UInt8((x * 3 + y * 2 + c * 40) % 256) } } }
        }
        let encoded = try Codec.encode(image, as: .avif, quality: 90)
        #expect(try Codec.probe(encoded).format == .avif)
        #expect(try Codec.checkComplete(encoded, format: .avif) == ())
        let back = try Codec.decode(encoded).image
        #expect(back.width == 67 && back.height == 45 && back.channels == (channels % 2 == 0 ? 4 : 3))
        let expanded = channels < 3 ? (0..<(67 * 45)).flatMap { i in
            (0..<back.channels).map { c in image.pixels[i * channels + (c == 3 ? 1 : 0)] }
        } : image.pixels
        #expect(meanError(expanded, back.pixels) < 6, "mean error \(meanError(expanded, back.pixels))")
    }

    /// Files Pillow writes decode (bands equal the whole, close to Pillow's
    /// own decoding), and Pillow reads what imgproc writes.
    @Test func pillowReadsOursAndWeReadPillows() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(".avif") }.sorted()
        #expect(files.count >= 3)
        for name in files {
            let path = Self.corpus.appendingPathComponent(name).path
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let image = try Codec.decode(bytes).image
            let decoder = try RowDecoder(SourceBytes(bytes))
            try decoder.skip(4)
            #expect(try decoder.readRow() == Array(image.pixels[(4 * image.width * image.channels)..<(5 * image.width * image.channels)]))
            let script = "import sys; from PIL import Image; print(Image.open(sys.argv[1]).convert(sys.argv[2]).tobytes().hex())"
            let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, path, image.channels == 4 ? "RGBA" : "RGB"])
            try #require(r.status == 0, "Pillow: \(r.stderr)")
            let theirs = stride(from: 0, to: r.stdout.count - 1, by: 2).compactMap { UInt8(r.stdout.dropFirst($0).prefix(2), radix: 16) }
            #expect(meanError(theirs, image.pixels) < 2, "\(name)")
        }
        #expect(Metadata.read([UInt8](try Data(contentsOf: Self.corpus.appendingPathComponent("icc.avif")))).icc?.isEmpty == false)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data(Codec.encode(testImage(width: 30, height: 20, channels: 4, seed: 3), as: .avif)).write(to: URL(fileURLWithPath: dir.path("o.avif")))
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", "import sys; from PIL import Image; im = Image.open(sys.argv[1]); print(im.mode, im.size[0], im.size[1])",
                                                           dir.path("o.avif")])
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "RGBA 30 20", "\(r.stdout) \(r.stderr)")
    }

    @Test func truncatedAndHEICFilesAreRefused() throws {
        let good = try Codec.encode(testImage(width: 20, height: 10, channels: 3, seed: 1), as: .avif)
        let cut = Array(good.prefix(good.count - 10))
        #expect(throws: CodecError.self) { try Codec.checkComplete(cut, format: .avif) }
        #expect(throws: CodecError.self) { try Codec.decode(cut) }
        let heic: [UInt8] = [0, 0, 0, 24] + Array("ftypheic\0\0\0\0mif1heic".utf8)
        let error = #expect(throws: CodecError.self) { try Codec.probe(heic) }
        #expect(error?.code == .unsupported && error?.message.contains("HEIC") == true, "\(error?.message ?? "")")
    }
}
