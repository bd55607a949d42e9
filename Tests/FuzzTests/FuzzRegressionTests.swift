import Foundation
import FuzzTargets
import NIOCore
import Testing
import TestSupport
import Uploads

/// Every seed and every input a fuzzer once failed on, replayed through its
/// target by `imgproc-fuzz` (a child process, so a trap names its target
/// instead of ending the test run).
@Suite("Fuzz findings")
struct FuzzRegressionTests {
    static let fuzzDir = packageRoot.appendingPathComponent("Tests/Fuzz")

    @Test(arguments: FuzzTarget.allCases)
    func seedsAndFindingsPass(_ target: FuzzTarget) throws {
        let dirs = ["corpus", "findings"].map { Self.fuzzDir.appendingPathComponent("\($0)/\(target.rawValue)").path }
            .filter { FileManager.default.fileExists(atPath: $0) }
        let result = try run(builtProduct("imgproc-fuzz"), [target.rawValue] + dirs)
        #expect(result.status == 0, "\(result.stderr.prefix(4000))")
        let inputs = try dirs.reduce(0) { $0 + (try FileManager.default.contentsOfDirectory(atPath: $1).count) }
        #expect(inputs > 0)
        #expect(result.stdout.contains("\(inputs) inputs, no failure"), "\(result.stdout)")
    }
}

/// The multipart reader on what the fuzzer found and on its edges.
@Suite("Multipart reader")
struct MultipartCollectorTests {
    func read(_ text: String, boundary: String = "b", pieces: Int = 1 << 20) -> Result<[UploadPart], UploadFailure> {
        let bytes = Array(text.utf8)
        let collector = MultipartCollector(boundary: boundary, limit: 1 << 20, maxFiles: 2)
        do {
            for start in stride(from: 0, to: bytes.count, by: pieces) {
                try collector.feed(ByteBuffer(bytes: bytes[start..<min(start + pieces, bytes.count)]))
            }
            try collector.finish()
        } catch { return .failure(error) }
        return .success(collector.completeParts)
    }

    @Test(arguments: [1, 2, 3, 7, 1 << 20])
    func partsAreTheSameWhateverThePieces(_ size: Int) throws {
        let body = "preamble\r\n--b\r\nContent-Disposition: form-data; name=\"ops\"\r\n\r\nblur:2\r\n"
            + "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
            + "\r\n--x\r\n-b\r\n--\r\n--b--\r\nepilogue"
        let parts = try read(body, pieces: size).get()
        #expect(parts == [UploadPart(name: "ops", data: Array("blur:2".utf8)),
                          UploadPart(name: "file", filename: "a.png", contentType: "image/png", data: Array("\r\n--x\r\n-b\r\n--".utf8))])
    }

    @Test func bytesAboveASCIIInAHeaderNameAreRefusedNotACrash() {
        // Found by the multipart fuzz target: the parser used before indexed
        // a 128-entry table with the byte and trapped.
        let body = "--b\r\nContent-Disposition\u{b8}: form-data; name=\"file\"\r\n\r\n1\r\n--b--\r\n"
        #expect(throws: Never.self) { _ = read(body) }
        let header = "--b\r\n\u{ff}: x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n1\r\n--b--\r\n"
        #expect((try? read(header).get())?.first?.data == [49])
    }

    @Test(arguments: [
        ("--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n123", "closing boundary"),
        ("--b\r\nno colon here\r\n\r\n1\r\n--b--", "without a name"),
        ("--bjunk\r\n\r\n1\r\n--b--", "text after a boundary"),
        ("--b\r\nX: " + String(repeating: "a", count: 9000) + "\r\n\r\n--b--", "longer than"),
        ("no boundary at all", "closing boundary"),
    ])
    func malformedBodiesAreExplained(_ body: String, _ why: String) {
        guard case let .failure(.unreadable(message)) = read(body) else { Issue.record("accepted: \(body.prefix(40))"); return }
        #expect(message.contains(why), "\(message)")
    }

    @Test func limitsHoldWhileReading() {
        let files = (0..<3).map { "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\($0).png\"\r\n\r\nx\r\n" }.joined()
        #expect(throws: UploadFailure.tooManyFiles(most: 2)) {
            let collector = MultipartCollector(boundary: "b", limit: 1 << 20, maxFiles: 2)
            try collector.feed(ByteBuffer(string: files + "--b--\r\n"))
        }
        #expect(throws: UploadFailure.tooLarge(limit: 10)) {
            try MultipartCollector(boundary: "b", limit: 10).feed(ByteBuffer(string: files))
        }
    }
}
