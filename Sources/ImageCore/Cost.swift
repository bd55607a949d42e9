/// What running a plan costs, estimated from the header and the pipeline
/// alone (nothing decoded), in seconds of one core: each operation's
/// nanoseconds per output pixel (from `make bench`'s one-core figures, for
/// 3 channels; fewer channels cost less) times the pixels it makes, times the
/// tiling's halo overhead, plus decoding and encoding.
public enum Cost {
    /// Nanoseconds per output pixel of a 3-channel image.
    static func nanoseconds(_ op: any TileOperation) -> Double {
        func taps(_ sigma: Double) -> Double { Double(Int((6 * sigma + 1).rounded()) | 1) }
        switch op {
        case let blur as GaussianBlur: return 1 + 0.2 * taps(blur.sigma)
        case let sharpen as Sharpen: return 4 + 0.2 * taps(sharpen.sigma)
        case is BoxBlur: return 5
        // Huang's sliding histogram: work grows with the window's side.
        case let median as Median: return median.radius == 1 ? 4 : 15 * Double(2 * median.radius + 1)
        case is Sobel: return 9
        case is CannyClassify: return 10
        case is ClaheApply: return 25
        case is Resize: return 4
        case is Rotate: return 3
        default: return 2
        }
    }

    /// The estimate for `plan` cut as `tiling`, with the costliest step named.
    /// - Parameters:
    ///   - decodeNanoseconds: per pixel (3 channels) of the source, to read it.
    ///   - encodeNanoseconds: per pixel (3 channels) of the result, to write it.
    public static func estimate(_ plan: Plan, tiling: Tiling, decodeNanoseconds: Double, encodeNanoseconds: Double)
        -> (seconds: Double, costliest: String, costliestSeconds: Double) {
        var total = Double(plan.input.pixelCount) * decodeNanoseconds * channelScale(plan.input)
        var costliest = "decoding", costliestSeconds = total
        func add(_ name: String, _ nanoseconds: Double) {
            total += nanoseconds
            if nanoseconds > costliestSeconds { (costliest, costliestSeconds) = (name, nanoseconds) }
        }
        for stage in plan.stages {
            let overhead = haloOverhead(stage, tiling: tiling)
            if stage.equalise != nil { add("clahe", Double(stage.input.pixelCount) * 25 * overhead) }
            for (i, op) in stage.ops.enumerated() {
                let out = stage.shapes[i + 1]
                add(op.description, Double(out.pixelCount) * nanoseconds(op) * channelScale(out) * overhead)
            }
            if stage.finish != nil || stage.histograms != nil { add("global step", Double(stage.output.pixelCount) * 3) }
        }
        add("encoding", Double(plan.output.pixelCount) * encodeNanoseconds * channelScale(plan.output))
        return (total / 1e9, costliest, costliestSeconds / 1e9)
    }

    static func channelScale(_ shape: Shape) -> Double { max(1, Double(shape.channels)) / 3 }

    /// Pixels the stage's tiles read over the pixels they make (1: no halo).
    /// - Parameters:
    ///   - stage: the stage cut.
    ///   - tiling: how it is cut.
    public static func haloOverhead(_ stage: Stage, tiling: Tiling) -> Double {
        let tiles = stage.tiles(tiling)
        let read = tiles.reduce(0) { $0 + $1.halo.area }, made = tiles.reduce(0) { $0 + $1.core.area }
        // Geometry changes the size between input and output: compare like with like.
        let scale = Double(stage.input.pixelCount) / Double(max(1, stage.output.pixelCount))
        return max(1, Double(read) / (Double(made) * scale))
    }
}

extension Plan {
    /// `tiling`, with its tiles grown until each reads at most `ratio` times
    /// the pixels it makes (a 600-pixel halo around 16-pixel tiles would read
    /// every pixel hundreds of times), or until one tile covers the image.
    /// - Parameters:
    ///   - tiling: the tiling asked for.
    ///   - ratio: the most input read per output pixel before the tiles grow.
    public func boundingHalo(_ tiling: Tiling, ratio: Double = 4) -> Tiling {
        var tiling = tiling
        while stages.contains(where: { Cost.haloOverhead($0, tiling: tiling) > ratio }) {
            let largest = stages.map { max($0.output.width, $0.output.height) }.max()!
            switch tiling {
            case let .squares(side) where side < largest: tiling = .squares(min(largest, 2 * side))
            case let .strips(rows) where rows < stages.map(\.output.height).max()!: tiling = .strips(2 * rows)
            default: return tiling
            }
        }
        return tiling
    }
}
