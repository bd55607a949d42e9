// swift-tools-version:6.0
import PackageDescription

// Linux only: the code uses Glibc, /proc and glibc's allocator knobs, and
// links Open MPI, hiredis and rabbitmq-c from Debian's packages.
#if !os(Linux)
fatalError("imgproc builds on Linux only")
#endif

let package = Package(
    name: "imgproc",
    products: [
        .executable(name: "imgproc", targets: ["imgproc"]),
        .executable(name: "imgproc-worker", targets: ["imgproc-worker"]),
        .executable(name: "imgproc-server", targets: ["imgproc-server"]),
        .library(name: "ImageCore", targets: ["ImageCore"]),
        .library(name: "ImageCodecs", targets: ["ImageCodecs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        // The shape of every module's errors (code, message, cause).
        .target(name: "Failure"),
        // C libraries, each touched by one Swift module only.
        // libpng: a small C target keeps its setjmp-based error handling on the C side;
        // it also holds PNG writing's deflate (libdeflate) and zlib's Adler-32 and inflate.
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("deflate"), .linkedLibrary("z")]),
        // libjpeg: a small C target too (setjmp), for band decoding (skip) and restart markers.
        .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        .systemLibrary(name: "CLCMS2", pkgConfig: "lcms2", providers: [.apt(["liblcms2-dev"])]),
        .systemLibrary(name: "CAVIF", pkgConfig: "libavif", providers: [.apt(["libavif-dev"])]),
        .systemLibrary(name: "CWebP", pkgConfig: "libwebp", providers: [.apt(["libwebp-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CRabbitMQ", pkgConfig: "librabbitmq", providers: [.apt(["librabbitmq-dev"])]),

        // Pure image code: no C, no I/O.
        .target(name: "ImageCore", dependencies: ["Failure"]),
        .target(name: "ImageCodecs", dependencies: ["ImageCore", "Failure", "CPNG", "CJPEG", "CWebP", "CAVIF", "CLCMS2"]),
        // Jobs and tiles in Redis; the Lua scripts live in the top-level lua/ folder.
        .target(name: "TileStore", dependencies: [
            "ImageCore", "Failure", "CHiredis", "Backoff", "ServiceURL", .product(name: "Logging", package: "swift-log"),
        ]),

        // job.created / job.done on RabbitMQ: publisher with confirms, consumer with manual acks.
        .target(name: "JobEvents", dependencies: ["Failure", "CRabbitMQ", "Backoff", "ServiceURL", .product(name: "Logging", package: "swift-log")]),
        // Decoding, checking and cutting an upload into a job's first tiles.
        .target(name: "Jobs", dependencies: ["ImageCore", "ImageCodecs", "TileStore", "Failure"]),
        // Doubling delays for reconnect and retry loops.
        .target(name: "Backoff"),
        // scheme://user:password@host:port/path, read once for Redis and RabbitMQ URLs.
        .target(name: "ServiceURL", dependencies: ["Failure"]),
        // glibc's allocator: freed memory given back when a process goes quiet.
        .target(name: "SystemMemory"),
        // Multipart bodies read piece by piece under limits (no HTTP framework: fuzzed alone).
        .target(name: "Uploads", dependencies: [.product(name: "NIOCore", package: "swift-nio")]),
        // The Hummingbird application: routes, pages, result keeper.
        .target(name: "Server", dependencies: [
            "ImageCore", "ImageCodecs", "TileStore", "Jobs", "JobEvents", "Uploads", "SystemMemory", "Failure",
            .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdCore", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The MPI world: rank, size, collectives; no raw MPI handle leaks above it.
        .target(name: "Cluster", dependencies: ["CMPI", "Failure"]),
        // The mpirun supervisor and child processes: no MPI here, so the CLI links none.
        .target(name: "Supervision", dependencies: ["TileStore", "Backoff", "Failure", .product(name: "Logging", package: "swift-log")]),
        // The rank loop (claim, steal, process, gather, global steps).
        .target(name: "Worker", dependencies: [
            "ImageCore", "ImageCodecs", "TileStore", "Cluster", "JobEvents", "SystemMemory", "Backoff",
            .product(name: "Logging", package: "swift-log"),
        ]),

        // A rank's command-line options, shared by imgproc-worker and `imgproc workers`.
        .target(name: "WorkerOptions", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // Thin executables.
        .executableTarget(
            name: "imgproc",
            dependencies: [
                "ImageCore", "ImageCodecs", "TileStore", "Jobs", "Supervision", "WorkerOptions", "Failure",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "imgproc-server",
            dependencies: ["Server", "Jobs", "TileStore", "JobEvents", "SystemMemory",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "imgproc-worker",
            dependencies: ["Worker", "WorkerOptions", "TileStore", "JobEvents", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(name: "imgproc-bench", dependencies: ["ImageCore", "ImageCodecs", "TileStore", "Jobs", "Worker", "Supervision", "Failure"],
                         exclude: ["opencv_bench.py", "opencv_small.py"]),

        // Fuzz targets (make fuzz builds them with libFuzzer and sanitizers; tests replay findings).
        .target(name: "FuzzTargets", dependencies: ["ImageCore", "ImageCodecs", "Uploads", "TileStore", "JobEvents",
                                                    .product(name: "NIOCore", package: "swift-nio")]),
        .executableTarget(name: "imgproc-fuzz", dependencies: ["FuzzTargets"]),

        .target(name: "TestSupport", dependencies: ["ImageCore", "JobEvents", "Supervision", "TileStore"], path: "Tests/TestSupport"),
        .testTarget(name: "ImageCoreTests", dependencies: ["ImageCore", "TestSupport"]),
        .testTarget(name: "ImageCodecsTests", dependencies: ["ImageCodecs", "TestSupport"]),
        .testTarget(name: "OpenCVTests", dependencies: ["ImageCore", "ImageCodecs", "TestSupport"],
                    exclude: ["opencv_reference.py"]),
        .testTarget(name: "CLITests", dependencies: ["ImageCore", "ImageCodecs", "TileStore", "TestSupport", "WorkerOptions"]),
        // RabbitMQ URLs, the events' JSON and the backoff, without a broker.
        .testTarget(name: "JobEventsTests", dependencies: ["JobEvents", "Backoff"]),
        // Live-service tests: a real redis-server (REDIS_URL, or one they start).
        .testTarget(name: "TileStoreTests", dependencies: ["TileStore", "ImageCore", "TestSupport"]),
        // The HTTP API at router level (HummingbirdTesting), with real Redis and RabbitMQ.
        .testTarget(name: "ServerTests", dependencies: [
            "Server", "TileStore", "JobEvents", "ImageCodecs", "ImageCore", "TestSupport",
            .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"), .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The whole system: server, workers, Redis, RabbitMQ, a browser.
        .testTarget(name: "SystemTests", dependencies: ["TileStore", "JobEvents", "ImageCodecs", "ImageCore", "Jobs", "TestSupport"],
                    exclude: ["page_upload.py"]),
        // Test hosts in network namespaces: ranks on their own addresses, links cut on purpose.
        .testTarget(name: "MultiHostTests", dependencies: ["TileStore", "ImageCodecs", "ImageCore", "TestSupport"]),
        // Fuzz seeds and findings replayed through imgproc-fuzz, and the multipart reader.
        .testTarget(name: "FuzzTests", dependencies: ["FuzzTargets", "Uploads", "TestSupport",
                                                     .product(name: "NIOCore", package: "swift-nio")]),
        // Live-service tests: real mpirun worlds of imgproc-worker against Redis.
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "Jobs", "TileStore", "ImageCore", "ImageCodecs", "TestSupport",
                                                     .product(name: "Logging", package: "swift-log")]),
    ]
)
