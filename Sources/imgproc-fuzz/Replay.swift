import Foundation
import FuzzTargets

// Without FUZZING (the normal build) this replays saved inputs through a
// target. With it (make fuzz), libFuzzer provides main and calls
// LLVMFuzzerTestOneInput (Fuzzing.swift).
#if !FUZZING
/// `imgproc-fuzz TARGET FILE_OR_DIR...`: runs each input through the target;
/// a violated property traps.
@main
struct Replay {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            FileHandle.standardError.write(Data("usage: imgproc-fuzz \(names) FILE_OR_DIR...\n".utf8))
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("imgproc-fuzz: no such file: \(path)\n".utf8))
                exit(2)
            }
            let files = isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" } : [path]
            for file in files {
                target.run(Array(try Data(contentsOf: URL(fileURLWithPath: file))))
                count += 1
            }
        }
        print("imgproc-fuzz \(name): \(count) inputs, no failure")
    }
}
#endif
