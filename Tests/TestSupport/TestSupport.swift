import Foundation
import ImageCore
import Supervision

/// A seeded generator (SplitMix64), so failing random cases can be replayed.
public struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A test picture: smooth gradients, a few sharp-edged shapes and noise, so
/// that blurs, edges and histograms all have something to work on.
public func testImage(width: Int, height: Int, channels: Int, seed: UInt64) -> Image {
    var rng = SeededRandom(seed: seed)
    let shapes = (0..<4).map { _ in
        (x: Int.random(in: 0..<max(1, width), using: &rng), y: Int.random(in: 0..<max(1, height), using: &rng),
         r: Int.random(in: 1...max(2, min(width, height) / 3 + 1), using: &rng),
         v: (0..<channels).map { _ in UInt8.random(in: 0...255, using: &rng) })
    }
    let phase = (0..<channels).map { _ in Double.random(in: 0...6, using: &rng) }
    var pixels = [UInt8](repeating: 0, count: width * height * channels)
    for y in 0..<height {
        for x in 0..<width {
            for c in 0..<channels {
                var v = 128 + 90 * sin(Double(x) / 23 + phase[c]) * cos(Double(y) / 31 - phase[c])
                for s in shapes where (x - s.x) * (x - s.x) + (y - s.y) * (y - s.y) < s.r * s.r {
                    v = Double(s.v[c])
                }
                v += Double(Int.random(in: -12...12, using: &rng))
                pixels[(y * width + x) * channels + c] = UInt8(max(0, min(255, v)))
            }
        }
    }
    return Image(width: width, height: height, channels: channels, pixels: pixels)
}

/// Random pipeline text for operation `name`, with arguments kept in ranges
/// that exercise halos and geometry without making tests slow.
public func randomSpec(_ name: String, using rng: inout SeededRandom) -> String {
    func n(_ r: ClosedRange<Double>) -> String { String(format: "%.2f", Double.random(in: r, using: &rng)) }
    func i(_ r: ClosedRange<Int>) -> String { String(Int.random(in: r, using: &rng)) }
    switch name {
    case "brightness": return "brightness:\(i(-120...120))"
    case "contrast": return "contrast:\(n(0.2...3))"
    case "gamma": return "gamma:\(n(0.3...3))"
    case "blur": return "blur:\(n(0.3...4))"
    case "boxblur": return "boxblur:\(i(1...6))"
    case "median": return "median:\(i(1...4))"
    case "sharpen": return "sharpen:\(n(0.4...3)):\(n(0.2...3))"
    case "canny":
        let low = Int.random(in: 0...300, using: &rng)
        return "canny:\(low):\(low + Int.random(in: 0...300, using: &rng))"
    case "clahe": return "clahe:\(n(0...5)):\(i(1...10))"
    case "resize":
        return Bool.random(using: &rng) ? "resize:\(n(0.3...2.5))" : "resize:\(i(1...400))x\(i(1...400))"
    case "rotate": return "rotate:\([90, 180, 270].randomElement(using: &rng)!)"
    case "flip": return "flip:\(Bool.random(using: &rng) ? "h" : "v")"
    // From the corner: any image keeps something (offsets: OperationTests).
    case "crop": return "crop:0:0:\(i(1...400)):\(i(1...400))"
    case "fit", "fill": return "\(name):\(i(1...300))x\(i(1...300))"
    default: return name
    }
}

/// Where two images first differ, for failure messages.
public func firstDifference(_ a: Image, _ b: Image) -> String? {
    if a.shape != b.shape { return "shapes differ: \(a.shape) vs \(b.shape)" }
    guard let i = a.pixels.indices.first(where: { a.pixels[$0] != b.pixels[$0] }) else { return nil }
    let p = i / a.channels
    return "first difference at (\(p % a.width), \(p / a.width)) channel \(i % a.channels): \(a.pixels[i]) vs \(b.pixels[i])"
}

/// A temporary directory, removed by `remove()`.
public struct TemporaryDirectory {
    public let url: URL
    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("imgproc-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// The project root (where Package.swift is), found from this file.
public let packageRoot: URL = {
    var url = URL(fileURLWithPath: #filePath)
    while url.path != "/" {
        url.deleteLastPathComponent()
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
    }
    fatalError("Package.swift not found above \(#filePath)")
}()

/// `../shared/testdata` beside the project, when present.
public let sharedTestData: URL? = {
    let url = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata")
    return FileManager.default.fileExists(atPath: url.path) ? url : nil
}()

/// An executable built by this package (same folder as the test bundle).
public func builtProduct(_ name: String) -> URL {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        dir.deleteLastPathComponent()
    }
    for config in ["release", "debug"] {
        let candidate = packageRoot.appendingPathComponent(".build/\(config)/\(name)")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    fatalError("built product \(name) not found; run swift build first")
}

/// Output of a finished child process.
public struct ProcessResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs `executable` with `arguments` and waits for it.
/// - Parameter capture: read its output; pass false for programs that leave
///   daemons holding the pipes open.
@discardableResult
public func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil,
                capture: Bool = true) throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    if !capture {
        return ProcessResult(status: try spawnAndWait(executable.path, arguments, environment: environment ?? [:]),
                             stdout: "", stderr: "")
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting, so a full pipe cannot block the child.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// Runs a program with its output discarded and waits for it with waitpid,
/// for daemons that fork (Foundation's Process can miss their parent's exit).
public func spawnAndWait(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> Int32 {
    try ChildProcess(path, arguments, environment: environment, output: "/dev/null").wait().code
}

/// `source` written by vips to `path` in the colour space of one of its
/// built-in profiles (`cmyk`, `p3`), with that profile embedded.
public func vipsExport(_ source: String, to path: String, profile: String) throws {
    let made = try run(URL(fileURLWithPath: "/usr/bin/env"), ["vips", "icc_export", source, path, "--output-profile", profile])
    guard made.status == 0 else { throw TestServerError("vips icc_export: \(made.stderr)") }
}
