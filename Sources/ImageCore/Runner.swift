/// Runs a plan in one process: whole image at once (the reference), or tile by tile.
public enum Runner {
    /// The reference result: every stage on the whole image as one tile.
    /// - Parameters:
    ///   - image: the input, of the plan's input shape.
    ///   - plan: the stages to run.
    public static func reference(_ image: Image, plan: Plan) -> Image {
        run(image, plan: plan, tiling: nil)
    }

    /// Every stage cut into `tileSize` × `tileSize` output tiles, each
    /// processed on its own from its input region and stitched. Byte for
    /// byte the reference result.
    /// - Parameters:
    ///   - image: the input, of the plan's input shape.
    ///   - plan: the stages to run.
    ///   - tileSize: the side of the square output tiles.
    public static func tiled(_ image: Image, plan: Plan, tileSize: Int) -> Image {
        run(image, plan: plan, tiling: .squares(tileSize))
    }

    /// Every stage cut as `tiling` says; byte for byte the reference result.
    /// - Parameters:
    ///   - image: the input, of the plan's input shape.
    ///   - plan: the stages to run.
    ///   - tiling: squares or strips.
    public static func tiled(_ image: Image, plan: Plan, tiling: Tiling) -> Image {
        run(image, plan: plan, tiling: tiling)
    }

    static func run(_ image: Image, plan: Plan, tiling: Tiling?) -> Image {
        precondition(image.shape == plan.input, "image is \(image.shape), plan is for \(plan.input)")
        var current = image
        var tables: ClaheTables?
        for stage in plan.stages {
            let out = stage.output
            let grid = (tiling ?? .squares(max(out.width, out.height))).grid(width: out.width, height: out.height)
            // One tile is the whole output: no stitching buffer needed.
            var result = grid.count == 1 ? nil : Image(width: out.width, height: out.height, channels: out.channels)
            var histograms = stage.histograms.map { [UInt32](repeating: 0, count: $0.histogramCount) }
            for rect in grid.rects {
                let need = stage.inputRect(for: rect)
                let source = Region(image: need == current.shape.bounds ? current : current.cropped(to: need),
                                    x: need.x, y: need.y)
                let tile = stage.process(source, output: rect, tables: tables)
                if result == nil { result = tile.image } else { result!.paste(tile.image, atX: rect.x, y: rect.y) }
                if let settings = stage.histograms { settings.add(tile, imageShape: out, to: &histograms!) }
            }
            current = stage.finishing(result!)
            tables = stage.histograms.map { ClaheTables(settings: $0, histograms: histograms!, imageShape: out) }
        }
        return current
    }
}
