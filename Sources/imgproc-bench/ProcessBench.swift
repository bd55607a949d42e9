import Foundation
import ImageCodecs
import ImageCore

/// `imgproc process` as a user runs it, file to file: time on one core beside
/// vips on the 24 MP JPEG, and peak memory on a 96 MP JPEG.
enum ProcessBench {
    static func run(image: Image) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("imgproc-process-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let imgproc = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("imgproc").path
        let big = dir.appendingPathComponent("24mp.jpg").path
        try Data(Codec.encode(image, as: .jpeg, quality: 90)).write(to: URL(fileURLWithPath: big))
        let out = dir.appendingPathComponent("out.jpg").path

        print("\nimgproc process, file to file, one core (taskset -c 0), 24 MP JPEG to JPEG (quality 90), best of 3")
        print("operation      imgproc s  vips s    imgproc/vips time")
        let vipsOut = out + "[Q=90]"
        for (ops, vips) in [("invert", ["invert", big, vipsOut]), ("blur:3", ["gaussblur", big, vipsOut, "3"]),
                            ("resize:0.25", ["resize", big, vipsOut, "0.25"])] {
            guard let ours = measure(["taskset", "-c", "0", imgproc, "process", big, out, "--ops", ops]) else {
                print("\(ops): imgproc process failed")
                continue
            }
            var line = pad(ops, 15) + pad(String(format: "%.3f", ours.seconds), 11)
            if let theirs = measure(["taskset", "-c", "0", "vips"] + vips, environment: ["VIPS_CONCURRENCY": "1"]) {
                line += pad(String(format: "%.3f", theirs.seconds), 10) + String(format: "%.2f", ours.seconds / theirs.seconds)
            }
            print(line)
        }

        let huge = dir.appendingPathComponent("96mp.jpg").path
        try Data(Codec.encode(benchImage(width: 12000, height: 8000), as: .jpeg, quality: 90)).write(to: URL(fileURLWithPath: huge))
        let raw = Double(12000 * 8000 * 3) / 1e6
        print(String(format: "\nimgproc process, 96 MP JPEG (12000x8000, raw %.0f MB) to JPEG: peak resident memory", raw))
        print("operation      peak MB   x raw   s")
        for ops in ["invert", "blur:3", "sharpen", "resize:0.25", "clahe", "canny"] {
            guard let ours = measure([imgproc, "process", huge, out, "--ops", ops], runs: 1) else {
                print("\(ops): imgproc process failed")
                continue
            }
            let peak = Double(ours.peakKB) * 1024 / 1e6
            print(pad(ops, 15) + pad(String(format: "%.0f", peak), 10) + pad(String(format: "%.2f", peak / raw), 8)
                  + String(format: "%.2f", ours.seconds))
        }
    }

    /// Best time and the peak resident memory of a command, each run in a
    /// fresh Python process (its children's peak is the command's alone).
    static func measure(_ command: [String], environment: [String: String] = [:], runs: Int = 3) -> (seconds: Double, peakKB: Int)? {
        let script = "import resource, subprocess, sys, time; t = time.time(); "
            + "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            + "print(r.returncode, time.time() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        var best: (seconds: Double, peakKB: Int)?
        for _ in 0..<runs {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = environment.map { "\($0.key)=\($0.value)" } + ["python3", "-c", script] + command
            let pipe = Pipe()
            process.standardOutput = pipe
            guard (try? process.run()) != nil else { return nil }
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            let parts = text.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            guard parts.count == 3, parts[0] == "0", let seconds = Double(parts[1]), let peak = Int(parts[2]) else { return nil }
            best = (min(best?.seconds ?? .infinity, seconds), max(best?.peakKB ?? 0, peak))
        }
        return best
    }
}
