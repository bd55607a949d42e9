import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport

/// Colour conversion checked against vips (which uses the system's lcms2,
/// as imgproc does; Pillow bundles another version, up to 24 levels apart on
/// a CMYK table profile) and Pillow's plain CMYK formula, on files that vips
/// and Pillow write at run time.
@Suite("Colour: CMYK JPEGs and colorspace=srgb")
struct ColourTests {
    /// Runs a Python snippet with Pillow; `print`s hex lines become byte arrays.
    func pillow(_ script: String, _ arguments: [String]) throws -> [[UInt8]] {
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", "import sys\nfrom PIL import Image\n" + script] + arguments)
        try #require(r.status == 0, "Pillow: \(r.stderr)")
        return r.stdout.split(separator: "\n").map { line in
            stride(from: 0, to: line.count, by: 2).map { i in
                UInt8(line.dropFirst(i).prefix(2), radix: 16)!
            }
        }
    }

    /// `path` converted to sRGB by vips (perceptual, black point compensation), as pixels.
    func vipsSRGB(_ path: String, _ dir: TemporaryDirectory) throws -> [UInt8] {
        let out = dir.path("vips-\(UUID().uuidString).png")
        let r = try run(URL(fileURLWithPath: "/usr/bin/env"), ["vips", "icc_transform", path, out, "srgb", "--intent", "perceptual",
                                                           "--black-point-compensation"])
        try #require(r.status == 0, "vips: \(r.stderr)")
        return try Codec.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: out)))).image.pixels
    }

    func maxDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
        zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    func sample(_ dir: TemporaryDirectory) throws -> String {
        let path = dir.path("rgb.png")
        try Data(Codec.encode(testImage(width: 64, height: 48, channels: 3, seed: 7), as: .png)).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A CMYK JPEG without a profile (Pillow writes it) decodes to RGB as Pillow converts it, to the byte.
    @Test func aCMYKJPEGWithoutAProfileDecodesAsPillowConvertsIt() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("cmyk.jpg")
        let expected = try pillow("Image.open(sys.argv[1]).convert('CMYK').save(sys.argv[2], quality=90)\nprint(Image.open(sys.argv[2]).convert('RGB').tobytes().hex())",
                                  [try sample(dir), path])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(try Codec.probe(bytes).channels == 3)
        let image = try Codec.decode(bytes).image
        #expect(image.channels == 3 && image.pixels == expected.first)
    }

    /// A CMYK JPEG with its profile (vips writes it with its built-in CMYK
    /// profile, Adobe-inverted) goes through the profile, as vips converts
    /// it; a band decodes as the whole; results drop the profile.
    @Test func aCMYKJPEGGoesThroughItsProfile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("cmyk.jpg")
        try vipsExport(try sample(dir), to: path, profile: "cmyk")
        let plainFormula = try pillow("print(Image.open(sys.argv[1]).convert('RGB').tobytes().hex())", [path])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let image = try Codec.decode(bytes).image
        #expect(maxDifference(image.pixels, try vipsSRGB(path, dir)) <= 2, "lcms2 through the profile, as vips")
        #expect(maxDifference(image.pixels, plainFormula[0]) > 10, "not the plain formula")
        let decoder = try RowDecoder(SourceBytes(bytes))
        try decoder.skip(20)
        #expect(try decoder.readRow() == Array(image.pixels[(20 * 64 * 3)..<(21 * 64 * 3)]))
        #expect(Metadata.read(bytes).icc != nil && Metadata.read(bytes).kept(.profile).icc == nil, "a CMYK profile is not written over RGB")
    }

    /// `colorspace=srgb`: a Display P3 PNG's pixels go through its profile
    /// to sRGB, as vips converts them; without it they are left as stored.
    @Test func anRGBProfileConvertsToSRGBOnlyWhenAsked() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path("p3.png")
        try vipsExport(try sample(dir), to: path, profile: "p3")
        let stored = try pillow("print(Image.open(sys.argv[1]).tobytes().hex())", [path])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(try Codec.decode(bytes).image.pixels == stored[0])
        let converted = try Codec.decode(bytes, toSRGB: true).image
        #expect(maxDifference(converted.pixels, try vipsSRGB(path, dir)) <= 2 && converted.pixels != stored[0])
        let decoder = try RowDecoder(SourceBytes(bytes), toSRGB: true)
        try decoder.skip(30)
        #expect(try decoder.readRow() == Array(converted.pixels[(30 * 64 * 3)..<(31 * 64 * 3)]))
        // No profile, or a gray image: nothing to convert by.
        let plain = try Codec.encode(testImage(width: 8, height: 8, channels: 3, seed: 1), as: .png)
        #expect(try Codec.decode(plain, toSRGB: true).image == Codec.decode(plain).image)
    }
}
