import Foundation
import ImageCodecs
import ImageCore
import TileStore

// Speed figures for `make bench`: release build, one core, printed.
// Each figure is the best of a few runs, beside OpenCV on the same pixels
// where Python with cv2 is installed.

let arguments = CommandLine.arguments
let width = 6000, height = 4000

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func best(of runs: Int, _ body: () -> Void) -> Double {
    (0..<runs).map { _ in seconds(body) }.min()!
}

/// A picture with gradients, shapes and noise (cheap to make), 24 MP by default.
func benchImage(width: Int = width, height: Int = height) -> Image {
    var state: UInt32 = 2463534242
    return Image(width: width, height: height, channels: 3) { p in
        for y in 0..<height {
            for x in 0..<width {
                state ^= state << 13; state ^= state >> 17; state ^= state << 5
                let noise = Int(state & 31) - 16
                let inside = (x / 500 + y / 500) % 3 == 0
                let base = inside ? 200 : (x * 255 / width + y * 128 / height) / 2
                let i = (y * width + x) * 3
                p[i] = UInt8(clamping: base + noise)
                p[i + 1] = UInt8(clamping: (base * 3) / 4 + noise)
                p[i + 2] = UInt8(clamping: 255 - base + noise)
            }
        }
    }
}

/// OpenCV's time for a spec on the same image, asked of the helper script
/// spec by spec, so that each is measured right beside our own run of it.
final class OpenCVTimer {
    let process = Process()
    let input = Pipe(), output = Pipe()
    var pending = Data()

    /// nil when python3 with cv2 is not there.
    init?(imagePath: String, runs: Int) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("opencv_bench.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, imagePath, String(runs)]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil, line() == "ready" else { return nil }
    }

    func line() -> String? {
        while true {
            if let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let text = String(decoding: pending[..<end], as: UTF8.self)
                pending.removeSubrange(...end)
                return text
            }
            let more = output.fileHandleForReading.availableData
            if more.isEmpty { return nil }
            pending.append(more)
        }
    }

    func seconds(_ spec: String) -> Double? {
        input.fileHandleForWriting.write(Data((spec + "\n").utf8))
        guard let answer = line() else { return nil }
        let parts = answer.split(separator: " ")
        return parts.count == 2 ? Double(parts[1]) : nil
    }

    deinit {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

let redisURL = ProcessInfo.processInfo.environment["REDIS_URL"]
if arguments.dropFirst().first == "--decode", arguments.count > 2 {
    try DecodeBench.run(jpeg: [UInt8](FileManager.default.contents(atPath: arguments[2]) ?? Data()))
    exit(0)
}
if arguments.dropFirst().first == "--workers", let url = redisURL {
    try WorkerBench.run(url: try RedisURL(url), image: benchImage())
    exit(0)
}
if arguments.dropFirst().first == "--system", let url = redisURL, let amqp = ProcessInfo.processInfo.environment["AMQP_URL"] {
    try SystemBench.run(redis: try RedisURL(url), amqp: amqp, image: benchImage())
    exit(0)
}
if arguments.dropFirst().first == "--thumbnail", let url = redisURL, let amqp = ProcessInfo.processInfo.environment["AMQP_URL"] {
    // Only the thumbnail line of --system.
    try SystemBench.alone(redis: try RedisURL(url), amqp: amqp, image: benchImage()) { system, big, path in
        try SystemBench.thumbnail(system, big, path: path, connection: try HTTPConnection(port: system.port))
    }
    exit(0)
}
if arguments.dropFirst().first == "--small", let url = redisURL, let amqp = ProcessInfo.processInfo.environment["AMQP_URL"] {
    // Only the small-image lines of --system.
    try SystemBench.alone(redis: try RedisURL(url), amqp: amqp, image: benchImage()) { system, _, _ in
        try SystemBench.smallImages(system, image: benchImage())
    }
    try SystemBench.smallImagesOnACluster(amqp: amqp, image: benchImage())
    exit(0)
}
if arguments.dropFirst().first == "--png", let url = redisURL, let amqp = ProcessInfo.processInfo.environment["AMQP_URL"] {
    // Only the PNG output lines of --system.
    try SystemBench.alone(redis: try RedisURL(url), amqp: amqp, image: benchImage()) { system, big, path in
        try SystemBench.pngOutput(system, big, path: path)
    }
    exit(0)
}
if arguments.dropFirst().first == "--memory", let url = redisURL, let amqp = ProcessInfo.processInfo.environment["AMQP_URL"] {
    // Only the ranks' memory lines of --system: 96 MP on 1, 2 and 3 ranks.
    try SystemBench.memory(redis: try RedisURL(url), amqp: amqp)
    exit(0)
}
if arguments.dropFirst().first == "--process" {
    // Only the imgproc process figures: one core beside vips, and memory at 96 MP.
    try ProcessBench.run(image: benchImage())
    exit(0)
}
if arguments.dropFirst().first == "--hosts" {
    // Only the test-host figures (they take a while to set up).
    try MultiHostBench.run(image: benchImage())
    exit(0)
}
let specs = arguments.count > 1 ? Array(arguments.dropFirst()) : [
    "grayscale", "invert", "brightness:20", "contrast:1.2", "gamma:2.2", "blur:1", "blur:3", "boxblur:2",
    "median:1", "median:3", "sharpen:1:1", "sobel", "canny:100:200", "clahe:2:8", "resize:0.5", "resize:1.5",
    "rotate:90", "flip:h",
]

let runs = 5
print("imgproc bench: \(width)x\(height) RGB (\(width * height / 1_000_000) MP), one core, best of \(runs), each spec timed right after OpenCV's")
let image = benchImage()
let skipPeers = ProcessInfo.processInfo.environment["IMGPROC_BENCH_NO_PEERS"] != nil
let path = FileManager.default.temporaryDirectory.appendingPathComponent("imgproc-bench-\(getpid()).png").path
var opencv: OpenCVTimer?
if !skipPeers {
    try Data(Codec.encode(image, as: .png)).write(to: URL(fileURLWithPath: path))
    opencv = OpenCVTimer(imagePath: path, runs: runs)
    try? FileManager.default.removeItem(atPath: path)
}
if opencv == nil { print("(OpenCV figures left out: python3 with cv2 not found; run make deps)") }

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
print(pad("operation", 16) + pad("imgproc s", 11) + pad("MP/s", 9) + pad("OpenCV s", 10) + "imgproc/OpenCV speed")
for spec in specs {
    let plan = try Plan(try Pipeline(parsing: spec), input: image.shape)
    let c = opencv?.seconds(spec)
    let t = best(of: runs) { _ = Runner.reference(image, plan: plan) }
    let mp = Double(width * height) / 1e6 / t
    var line = pad(spec, 16) + pad(String(format: "%.3f", t), 11) + pad(String(format: "%.0f", mp), 9)
    if let c { line += pad(String(format: "%.3f", c), 10) + String(format: "%.2fx", c / t) }
    print(line)
}
opencv = nil

if arguments.count == 1 { try ProcessBench.run(image: image) }

if let redisURL, !redisURL.isEmpty, arguments.count == 1 {
    try RedisBench.run(url: try RedisURL(redisURL), image: image)
    try WorkerBench.run(url: try RedisURL(redisURL), image: image)
    if let amqp = ProcessInfo.processInfo.environment["AMQP_URL"], !amqp.isEmpty {
        try SystemBench.run(redis: try RedisURL(redisURL), amqp: amqp, image: image)
    }
    try MultiHostBench.run(image: image)
}
