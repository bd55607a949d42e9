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

    /// `--png-level` trades time for size; the pixels are the same at every level.
    @Test func pngLevelChangesTheSizeNotThePixels() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try write(testImage(width: 700, height: 500, channels: 3, seed: 3), dir.path("in.png"))
        var sizes: [Int: Int] = [:]
        var images: [Image] = []
        for level in [0, 1, 9] {
            let out = dir.path("out\(level).png")
            let r = try run(imgproc, ["process", dir.path("in.png"), out, "--ops", "blur:1", "--png-level", String(level)])
            #expect(r.status == 0, "\(r.stderr)")
            let bytes = try read(out)
            sizes[level] = bytes.count
            images.append(try Codec.decode(bytes).image)
        }
        #expect(images.allSatisfy { $0 == images[0] })
        #expect(sizes[0]! > sizes[1]! && sizes[1]! > sizes[9]!, "\(sizes)")
        // The default is level 1.
        let r = try run(imgproc, ["process", dir.path("in.png"), dir.path("default.png"), "--ops", "blur:1"])
        let defaultSize = try read(dir.path("default.png")).count
        #expect(r.status == 0 && defaultSize == sizes[1])
    }

    @Test(arguments: [
        (["--ops", "blur:huge"], "blur:huge"),
        (["--ops", "grayscale,sharpn"], "sharpn"),
        (["--ops", "invert", "--tile", "0"], "--tile"),
        (["--ops", "invert", "--quality", "101"], "--quality"),
        (["--ops", "invert", "--png-level", "10"], "--png-level"),
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
