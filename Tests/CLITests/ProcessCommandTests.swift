import Foundation
import ImageCodecs
import ImageCore
import Testing
import TestSupport

/// `imgproc process` as users run it: files in, files out, errors on stderr.
@Suite("imgproc process")
struct ProcessCommandTests {
    let imgproc = builtProduct("imgproc")

    func write(_ image: Image, _ path: String, as format: ImageFormat = .png) throws {
        try Data(Codec.encode(image, as: format)).write(to: URL(fileURLWithPath: path))
    }

    func read(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    @Test func tiledOutputEqualsTheReferenceFile() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try write(testImage(width: 301, height: 203, channels: 3, seed: 12), dir.path("in.png"))
        let ops = "clahe:3:4,blur:1.2,canny:40:120,boxblur:1,resize:0.8"
        for (out, extra) in [("ref.png", [String]()), ("t37.png", ["--tile", "37"]), ("t128.png", ["--tile", "128"])] {
            let r = try run(imgproc, ["process", dir.path("in.png"), dir.path(out), "--ops", ops] + extra)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let reference = try read(dir.path("ref.png"))
        #expect(try read(dir.path("t37.png")) == reference)
        #expect(try read(dir.path("t128.png")) == reference)
        let image = try Codec.decode(reference).image
        #expect(image.shape == Shape(width: 241, height: 162, channels: 1))
    }

    @Test func outputFormatFollowsTheExtension() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try write(testImage(width: 50, height: 40, channels: 3, seed: 1), dir.path("in.png"))
        let r = try run(imgproc, ["process", dir.path("in.png"), dir.path("out.JPEG"), "--ops", "invert", "--quality", "80"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Codec.probe(read(dir.path("out.JPEG"))).format == .jpeg)
    }

    @Test(arguments: [
        (["--ops", "blur:huge"], "blur:huge"),
        (["--ops", "grayscale,sharpn"], "sharpn"),
        (["--ops", "invert", "--tile", "0"], "--tile"),
        (["--ops", "invert", "--quality", "101"], "--quality"),
    ])
    func badArgumentsAreExplained(_ extra: [String], _ mention: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try write(testImage(width: 8, height: 8, channels: 1, seed: 1), dir.path("in.png"))
        let r = try run(imgproc, ["process", dir.path("in.png"), dir.path("out.png")] + extra)
        #expect(r.status != 0)
        #expect(r.stderr.contains(mention), "stderr: \(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("out.png")))
    }

    @Test func badInputFilesAreExplained() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Data("not an image".utf8).write(to: URL(fileURLWithPath: dir.path("text.png")))
        let cases: [(String, String, String)] = [
            (dir.path("missing.png"), dir.path("o.png"), "cannot read"),
            (dir.path("text.png"), dir.path("o.png"), "not a PNG, JPEG, WebP or AVIF"),
            (dir.path("text.png"), dir.path("o.gif"), "output format"),
        ]
        for (input, output, message) in cases {
            let r = try run(imgproc, ["process", input, output, "--ops", "invert"])
            #expect(r.status != 0)
            #expect(r.stderr.contains(message), "stderr: \(r.stderr)")
        }
    }

    @Test func opsListsEveryOperation() throws {
        let r = try run(imgproc, ["ops"])
        #expect(r.status == 0)
        for info in OperationInfo.all { #expect(r.stdout.contains(info.usage)) }
    }
}
