import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport

@Suite("Codecs")
struct CodecTests {
    @Test(arguments: [1, 2, 3, 4])
    func pngRoundTripIsLossless(_ channels: Int) throws {
        let image = testImage(width: 67, height: 45, channels: channels, seed: UInt64(channels))
        let bytes = try Codec.encode(image, as: .png)
        let (decoded, format) = try Codec.decode(bytes)
        #expect(format == .png)
        #expect(decoded == image)
        #expect(try Codec.probe(bytes) == ImageInfo(format: .png, width: 67, height: 45, channels: channels))
    }

    @Test(arguments: [1, 3])
    func jpegRoundTripIsClose(_ channels: Int) throws {
        let image = testImage(width: 64, height: 48, channels: channels, seed: 9)
        let bytes = try Codec.encode(image, as: .jpeg, quality: 95)
        let (decoded, format) = try Codec.decode(bytes)
        #expect(format == .jpeg)
        #expect(decoded.shape == image.shape)
        let meanError = zip(decoded.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +) / image.pixels.count
        #expect(meanError <= 8, "mean error \(meanError)")
    }

    @Test func jpegDropsAlpha() throws {
        let image = testImage(width: 16, height: 16, channels: 4, seed: 2)
        #expect(try Codec.decode(Codec.encode(image, as: .jpeg)).image.channels == 3)
    }

    @Test func formatComesFromTheBytes() throws {
        #expect(throws: CodecError.self) { try Codec.decode([]) }
        let cases: [([UInt8], CodecErrorCode)] = [
            ([], .empty),
            (Array("hello, this is not an image".utf8), .unknownFormat),
            (Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 20), .unsupported),
            (Array("RIFF\0\0\0\0WEBPVP8 ".utf8), .corrupt),
            ([0x49, 0x49, 0x2A, 0x00] + [UInt8](repeating: 0, count: 20), .unsupported),
            ([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + [UInt8](repeating: 7, count: 40), .corrupt),
            ([0xFF, 0xD8, 0xFF] + [UInt8](repeating: 0, count: 40), .corrupt),
        ]
        for (bytes, code) in cases {
            let error = #expect(throws: CodecError.self) { try Codec.decode(bytes) }
            #expect(error?.code == code, "\(error?.message ?? "")")
        }
    }

    /// A 60-byte PNG claiming a 1 GB text chunk: libpng would allocate and
    /// zero-fill the claimed size before finding the data missing.
    @Test func aChunkClaimingAGigabyteCostsNoGigabyte() throws {
        var png = try Codec.encode(Image(width: 1, height: 1, channels: 1), as: .png)
        // Right after IHDR (8 bytes of signature, 25 of IHDR), as in libpng's crashers.
        let chunk: [UInt8] = [0x3F, 0xFF, 0xFF, 0xFF] + Array("iTXt".utf8) + [0, 0, 0, 0]
        png.insert(contentsOf: chunk, at: 33)
        var before = rusage(), after = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &before)
        #expect(throws: CodecError.self) { try Codec.decode(png) }
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &after)
        #expect(after.ru_maxrss - before.ru_maxrss < 256 * 1024, "peak memory grew by \(after.ru_maxrss - before.ru_maxrss) KiB")
    }

    /// A PNG whose header claims `width` × `height` with almost no data.
    static func bombPNG(width: Int, height: Int) throws -> [UInt8] {
        claimingSize(try Codec.encode(Image(width: 1, height: 1, channels: 3), as: .png), width: width, height: height)
    }

    @Test func decompressionBombIsRefusedFromTheHeader() throws {
        let bomb = try Self.bombPNG(width: 50000, height: 50000)
        #expect(bomb.count < 100)
        #expect(try Codec.probe(bomb) == ImageInfo(format: .png, width: 50000, height: 50000, channels: 3))
        let error = #expect(throws: CodecError.self) { try Codec.decode(bomb) }
        #expect(error?.code == .tooLarge)
        #expect(error?.message.contains("50000x50000") == true)
        // A lower limit is honoured too.
        let small = try Codec.encode(Image(width: 200, height: 100, channels: 1), as: .png)
        #expect(throws: CodecError.self) { try Codec.decode(small, limits: DecodeLimits(maxPixels: 19_999)) }
        #expect(try Codec.decode(small, limits: DecodeLimits(maxPixels: 20_000)).image.width == 200)
    }

    @Test func truncatedImagesAreRefused() throws {
        let image = testImage(width: 120, height: 90, channels: 3, seed: 4)
        for format in ImageFormat.allCases {
            let bytes = try Codec.encode(image, as: format)
            for cut in [bytes.count / 2, bytes.count - 100, 30] {
                var refused: CodecError?
                do { _ = try Codec.decode(Array(bytes.prefix(cut))) } catch { refused = error }
                #expect(refused?.code == .corrupt, "\(format) cut at \(cut) of \(bytes.count): \(refused?.message ?? "decoded")")
            }
        }
    }

    @Test func flippedBitsNeverCrash() throws {
        let bytes = try Codec.encode(testImage(width: 40, height: 30, channels: 3, seed: 8), as: .jpeg)
        var rng = SeededRandom(seed: 77)
        for _ in 0..<200 {
            var damaged = bytes
            for _ in 0..<3 { damaged[Int.random(in: 3..<damaged.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng) }
            if let image = try? Codec.decode(damaged).image { #expect(image.width > 0) }
        }
    }
}

@Suite("Codecs on shared test files", .enabled(if: sharedTestData != nil, "../shared/testdata is absent"))
struct SharedTestDataTests {
    static let root = sharedTestData ?? URL(fileURLWithPath: "/nonexistent")

    static func files(_ folder: String) -> [String] {
        let dir = root.appendingPathComponent(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".png") || $0.hasSuffix(".jpg") }.sorted()
    }

    static func read(_ folder: String, _ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: root.appendingPathComponent(folder).appendingPathComponent(name)))
    }

    @Test func everyPngSuiteImageDecodes() throws {
        let names = Self.files("png/pngsuite") + Self.files("png/pngsuite/interlaced").map { "interlaced/\($0)" }
        #expect(names.count >= 50)
        for name in names {
            let image = try Codec.decode(try Self.read("png/pngsuite", name)).image
            #expect(image.width == 32 && image.height == 32, "\(name)")
            // Colour type from the PngSuite name: n0g gray, n2c RGB, n3p palette, n4a gray+alpha, n6a RGBA.
            let base = (name as NSString).lastPathComponent
            let kind = base.dropFirst(base.hasPrefix("i") ? 4 : 3).prefix(3)
            let expected: Int? = ["n0g": 1, "n2c": 3, "n4a": 2, "n6a": 4][String(kind)]
            if let expected, !base.hasPrefix("ftb") && !base.hasPrefix("iftb") {
                #expect(image.channels == expected, "\(name): \(image.channels) channels")
            }
        }
    }

    @Test func crashersAreRefusedOrDecodedSafely() throws {
        let names = Self.files("png/crashers")
        #expect(names.count >= 20)
        for name in names {
            do {
                let image = try Codec.decode(try Self.read("png/crashers", name)).image
                #expect(image.pixels.count == image.width * image.height * image.channels)
            } catch let error as CodecError {
                #expect(!error.message.isEmpty, "\(name)")
            }
        }
    }

    @Test func libjpegTurboTestImagesDecode() throws {
        let orig = try Codec.decode(try Self.read("jpeg", "testorig.jpg")).image
        #expect(orig.width == 227 && orig.height == 149 && orig.channels == 3)
        for name in ["testimgint.jpg", "testimgari.jpg"] {
            let image = try Codec.decode(try Self.read("jpeg", name)).image
            #expect(image.shape == orig.shape, "\(name)")
        }
        // The source pixels (binary PPM) are close to the decoded baseline JPEG.
        let ppm = try Self.read("jpeg", "testorig.ppm")
        var newlines = 0, start = 0
        for (i, b) in ppm.enumerated() where b == 0x0A {
            newlines += 1
            if newlines == 3 { start = i + 1; break }
        }
        let source = Array(ppm[start...])
        #expect(source.count == orig.pixels.count)
        let meanError = zip(source, orig.pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +) / source.count
        #expect(meanError <= 4, "mean error \(meanError)")
    }

    @Test func twelveBitJpegIsUnsupported() throws {
        var jpeg = try Self.read("jpeg", "testorig.jpg")
        // Set the sample precision of the frame header (SOF0/SOF1) to 12.
        let sof = try #require((0..<(jpeg.count - 4)).first { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC1) })
        jpeg[sof + 4] = 12
        let error = #expect(throws: CodecError.self) { try Codec.decode(jpeg) }
        #expect(error?.code == .unsupported, "\(error?.message ?? "")")
    }

    @Test func jpegBombIsRefusedFromTheHeader() throws {
        var jpeg = try Self.read("jpeg", "testorig.jpg")
        let sof = try #require((0..<(jpeg.count - 8)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg[sof + 5] = 0xEA; jpeg[sof + 6] = 0x60   // height 60000
        jpeg[sof + 7] = 0xEA; jpeg[sof + 8] = 0x60   // width 60000
        let error = #expect(throws: CodecError.self) { try Codec.decode(jpeg) }
        #expect(error?.code == .tooLarge)
    }
}
