import Failure

/// A pipeline laid out for one input shape, as stages.
///
/// A stage is a run of tile-local operations over one tile grid: the unit of
/// one claim/steal round in distributed runs. Global steps sit between
/// stages:
/// - after a stage ending in canny's classification, ``Hysteresis`` runs over
///   the stitched map (``Stage/finish``);
/// - a stage followed by clahe sums its tiles' cell histograms
///   (``Stage/histograms``); the sums make ``ClaheTables``, and the next
///   stage starts with ``ClaheApply`` (``Stage/equalise``).
public struct Plan: Sendable {
    public let input: Shape
    public let stages: [Stage]
    public var output: Shape { stages.last!.output }

    /// Lays `pipeline` out for an input of shape `input`.
    /// - Throws: ``PipelineError`` when an intermediate image would be empty
    ///   or larger than `maxPixels`.
    /// - Parameters:
    ///   - pipeline: the parsed pipeline.
    ///   - input: the shape of the image it runs on (as loaded).
    ///   - maxPixels: the largest image any stage may make.
    /// - Throws: ``PipelineError`` when an operation cannot apply, or a stage would be too large.
    public init(_ pipeline: Pipeline, input: Shape, maxPixels: Int = 100_000_000) throws(PipelineError) {
        self.input = input
        var stages: [Stage] = []
        var current = Stage.Builder(input: input)
        for step in pipeline.steps {
            let before = current.output
            switch step {
            case let .local(op):
                current.ops.append(op)
            case let .canny(classify):
                current.ops.append(classify)
                current.finish = .hysteresis
                stages.append(current.build())
                current = Stage.Builder(input: current.output)
            case let .clahe(settings):
                current.histograms = settings
                stages.append(current.build())
                current = Stage.Builder(input: current.output)
                current.equalise = settings
            }
            let after = current.output
            if after.width < 1 || after.height < 1 {
                throw PipelineError.operation(.badSize, step.description, "it would leave nothing of \(before.width)x\(before.height)")
            }
            if after.pixelCount > maxPixels {
                throw PipelineError.operation(.badSize, step.description,
                    "it would turn \(before.width)x\(before.height) into \(after.width)x\(after.height), over the limit of \(maxPixels / 1_000_000) megapixels")
            }
        }
        if !current.isEmpty || stages.isEmpty { stages.append(current.build()) }
        self.stages = stages
    }
}

/// One tile-local run of a plan. See ``Plan``.
public struct Stage: Sendable {
    /// The global step after the stage's tiles are stitched.
    public enum Finish: Sendable { case hysteresis }

    public let input: Shape
    public let output: Shape
    /// clahe settings when the stage starts with clahe's interpolation; its
    /// tables come from the previous stage's histograms.
    public let equalise: ClaheSettings?
    public let ops: [any TileOperation]
    /// clahe settings when the stage's output tiles must report their cell histograms.
    public let histograms: ClaheSettings?
    public let finish: Finish?

    /// Shapes after each of `ops`; `shapes[0]` is the input.
    let shapes: [Shape]

    struct Builder {
        let input: Shape
        var equalise: ClaheSettings?
        var ops: [any TileOperation] = []
        var histograms: ClaheSettings?
        var finish: Finish?
        init(input: Shape) { self.input = input }
        var output: Shape { ops.reduce(input) { $1.outputShape(for: $0) } }
        var isEmpty: Bool { equalise == nil && ops.isEmpty }
        func build() -> Stage {
            var shapes = [input]
            for op in ops { shapes.append(op.outputShape(for: shapes.last!)) }
            return Stage(input: input, output: shapes.last!, equalise: equalise, ops: ops,
                         histograms: histograms, finish: finish, shapes: shapes)
        }
    }

    /// The rectangle of the stage's input needed for output tile `rect`:
    /// the pipeline walked backwards.
    public func inputRect(for rect: Rect) -> Rect {
        var r = rect
        for i in stride(from: ops.count - 1, through: 0, by: -1) {
            r = ops[i].inputRect(for: r, input: shapes[i])
        }
        return r
    }

    /// The output pixels of `rect` from `source`, which covers at least
    /// `inputRect(for: rect)` of the stage's input.
    /// - Parameter tables: clahe tables when ``equalise`` is set.
    public func process(_ source: Region, output rect: Rect, tables: ClaheTables? = nil) -> Region {
        // The rectangles each operation must produce, found walking backwards.
        var rects = [Rect](repeating: rect, count: ops.count + 1)
        for i in stride(from: ops.count - 1, through: 0, by: -1) {
            rects[i] = ops[i].inputRect(for: rects[i + 1], input: shapes[i])
        }
        var region = source
        if let settings = equalise {
            guard let tables, tables.settings == settings else {
                preconditionFailure("stage starts with \(settings) but has no tables for it")
            }
            region = ClaheApply(tables: tables).apply(region, output: rects[0], input: input)
        }
        for (i, op) in ops.enumerated() {
            region = op.apply(region, output: rects[i + 1], input: shapes[i])
        }
        return region.rect == rect ? region : region.cropped(to: rect)
    }

    /// The stage's global step over its stitched output.
    public func finishing(_ image: Image) -> Image {
        switch finish {
        case .hysteresis: return Hysteresis.apply(image)
        case nil: return image
        }
    }
}

/// One tile of a stage: the output rectangle it produces (its core) and the
/// input rectangle it reads (its halo, which covers the core's neighbourhood).
public struct StageTile: Sendable, Hashable {
    public let index: Int
    public let core: Rect
    public let halo: Rect

    /// - Parameters:
    ///   - index: the tile's place in the grid, row by row.
    ///   - core: the output rectangle it makes.
    ///   - halo: the input rectangle it reads.
    public init(index: Int, core: Rect, halo: Rect) {
        self.index = index
        self.core = core
        self.halo = halo
    }
}

extension Stage {
    /// The stage's output cut into tiles, row by row, with the input rectangle each needs.
    public func tiles(_ tiling: Tiling) -> [StageTile] {
        tiling.grid(width: output.width, height: output.height).rects.enumerated()
            .map { StageTile(index: $0, core: $1, halo: inputRect(for: $1)) }
    }

    /// The stage's output cut into `tileSize` squares.
    public func tiles(tileSize: Int) -> [StageTile] { tiles(.squares(tileSize)) }
}

extension Plan {
    /// Full-width strips for this plan: the shortest of 64, 128 or 256 rows
    /// whose halo adds at most half again to the rows a strip reads (256 when
    /// none does: rotations read across the whole input).
    public var strips: Tiling {
        let stage = stages[0]
        let scale = Double(stage.input.height) / Double(stage.output.height)
        for rows in [64, 128, 256] where rows < stage.output.height {
            let core = Rect(x: 0, y: (stage.output.height - rows) / 2, width: stage.output.width, height: rows)
            if Double(stage.inputRect(for: core).height) <= 1.5 * Double(rows) * scale { return .strips(rows) }
        }
        return .strips(256)
    }
}
