// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "imgproc",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "imgproc", targets: ["imgproc"]),
        .library(name: "ImageCore", targets: ["ImageCore"]),
        .library(name: "ImageCodecs", targets: ["ImageCodecs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
    ],
    targets: [
        // C libraries, each touched by one Swift module only.
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),

        // Pure image code: no C, no I/O.
        .target(name: "ImageCore"),
        .target(name: "ImageCodecs", dependencies: ["ImageCore", "CPNG", "CTurboJPEG"]),

        // Thin executables.
        .executableTarget(
            name: "imgproc",
            dependencies: [
                "ImageCore", "ImageCodecs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "imgproc-bench", dependencies: ["ImageCore", "ImageCodecs"]),

        .testTarget(name: "ImageCoreTests", dependencies: ["ImageCore"]),
        .testTarget(name: "ImageCodecsTests", dependencies: ["ImageCodecs"]),
        .testTarget(name: "CLITests", dependencies: ["ImageCodecs"]),
    ]
)
