import Foundation
import ImageCodecs
import Testing
import TestSupport

/// Schemathesis (`pip install schemathesis`), as `python3 -m schemathesis.cli`
/// (pip's `st` script may not be on PATH).
let schemathesisOK = (try? run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-m", "schemathesis.cli", "--version"]).status) == 0

/// The running system against its own /openapi.yaml, with every Schemathesis
/// check: no 5xx, every status, header and body as the spec says, 405 with
/// Allow for methods a route does not answer, odd ids, malformed multipart.
/// `make fuzz-api` runs it longer (IMGPROC_API_SECONDS, IMGPROC_API_EXAMPLES).
@Suite("The API against its spec", .serialized,
       .enabled(if: systemAvailable, "needs AMQP_URL (make test starts RabbitMQ) and mpirun"),
       .enabled(if: schemathesisOK, "needs Schemathesis (make deps installs it with pip)"))
struct APISpecTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seconds = environment["IMGPROC_API_SECONDS"] ?? "60"
    static let examples = environment["IMGPROC_API_EXAMPLES"] ?? "25"

    func schemathesisRun(_ system: System, config: String, _ extra: [String] = [],
                         environment: [String: String] = [:]) throws -> ProcessResult {
        let settings = packageRoot.appendingPathComponent("Tests/API/\(config)").path
        return try run(URL(fileURLWithPath: "/usr/bin/env"),
                       ["python3", "-m", "schemathesis.cli", "--config-file", settings,
                        "run", system.base + "/openapi.yaml", "--url", system.base,
                        "--max-examples", Self.examples, "--max-time", Self.seconds, "--no-color",
                        "--generation-database", "none", "--workers", "2"] + extra,
                       environment: environment)
    }

    @Test func schemathesisFindsNothing() throws {
        let system = try System(db: 56)
        // One real, finished job for the job routes' 200 answers.
        try writeImage(testImage(width: 40, height: 30, channels: 3, seed: 56), .png, to: system.dir.path("a.png"))
        let upload = try system.curl(["-F", "ops=grayscale,blur:1", "-F", "file=@\(system.dir.path("a.png"))", system.base + "/api/jobs"])
        let id = try #require(jobIDs(upload.body).first)
        #expect(try system.waitFor(id)["status"] as? String == "done")

        let all = try schemathesisRun(system, config: "schemathesis.toml")
        #expect(all.status == 0, "\(all.stdout.suffix(6000))\n\(system.logs)")
        #expect(all.stdout.contains("API Operations:"), "\(all.stdout.suffix(3000))")
        let known = try schemathesisRun(system, config: "known-job.toml", ["--include-path-regex", "\\{id\\}"],
                                        environment: ["IMGPROC_JOB_ID": id])
        #expect(known.status == 0, "\(known.stdout.suffix(6000))\n\(system.logs)")
        // What was tried, for make fuzz-api's output.
        for run in [all, known] {
            print(run.stdout.split(separator: "\n").filter { $0.contains("generated") || $0.contains(" in ") && $0.contains("==") }
                .joined(separator: "\n"))
        }

        // Still serving, and the real job untouched by all that.
        #expect(try system.get("/healthz").status == 200)
        #expect(try system.json("/api/jobs/\(id)")["status"] as? String == "done")
        #expect(try system.get("/api/jobs/\(id)/result").status == 200)
    }
}
