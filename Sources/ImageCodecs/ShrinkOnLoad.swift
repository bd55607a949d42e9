import ImageCore

/// JPEG shrink-on-load, as vipsthumbnail does: when a pipeline's first
/// resampling step (after the orientation's turns) is `fit` or `fill` to at
/// most half the size, libjpeg decodes the file shrunk by 2, 4 or 8 in the
/// DCT domain, and the area filter does the rest. The loaded image stays at
/// least twice the target in both directions, so the filter still averages.
/// The choice depends on the header and pipeline only, so the reference and
/// every rank load the same pixels.
public enum ShrinkOnLoad {
    /// 1 (no shrink), 2, 4 or 8.
    /// - Parameters:
    ///   - pipeline: the job's pipeline, orientation steps first.
    ///   - source: the file's header (only JPEGs shrink).
    public static func factor(_ pipeline: Pipeline, source: ImageInfo) -> Int {
        guard source.format == .jpeg else { return 1 }
        var w = source.width, h = source.height
        for step in pipeline.steps {
            guard case let .local(op) = step else { return 1 }
            if let turn = op as? Rotate {
                if turn.degrees % 180 != 0 { swap(&w, &h) }
                continue
            }
            if op is Flip { continue }
            let target: (width: Double, height: Double)
            if let fit = op as? Fit {
                let scale = min(Double(fit.width) / Double(w), Double(fit.height) / Double(h), 1)
                target = (Double(w) * scale, Double(h) * scale)
            } else if let fill = op as? Fill {
                let scale = max(Double(fill.width) / Double(w), Double(fill.height) / Double(h))
                target = (Double(w) * scale, Double(h) * scale)
            } else {
                return 1
            }
            return [8, 4, 2].first { d in
                Double((w + d - 1) / d) >= 2 * target.width && Double((h + d - 1) / d) >= 2 * target.height
            } ?? 1
        }
        return 1
    }
}
