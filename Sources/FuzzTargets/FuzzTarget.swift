/// The fuzz targets: each takes any bytes, must never crash, leak or hang,
/// and checks a property of what it parsed (a violated one traps, which the
/// fuzzer reports as a crash). `imgproc-fuzz` runs them under libFuzzer and
/// replays saved inputs; the regression tests replay the findings.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// PNG: header probe, completeness check, whole decode, row-band decode, encode.
    case png
    /// JPEG: the same paths as PNG.
    case jpeg
    /// WebP: the same paths as PNG.
    case webp
    /// AVIF: the same paths as PNG.
    case avif
    /// Pipeline text and a tiny image: parse, plan, cut tiles, estimate, tiled == whole.
    case pipeline
    /// A multipart/form-data body, read whole and in small pieces.
    case multipart
    /// `redis://` and `amqp://` URLs.
    case urls
    /// The JSON of `job.created` / `job.done` events.
    case events

    public func run(_ data: [UInt8]) {
        switch self {
        case .png: CodecTargets.png(data)
        case .jpeg: CodecTargets.jpeg(data)
        case .webp: CodecTargets.webp(data)
        case .avif: CodecTargets.avif(data)
        case .pipeline: PipelineTarget.run(data)
        case .multipart: MultipartTarget.run(data)
        case .urls: TextTargets.urls(data)
        case .events: TextTargets.events(data)
        }
    }
}
