import ImageCore

/// Any pipeline text on a tiny image: parsing and planning never crash; the
/// tiles of every stage cover its output once, with halos inside its input;
/// and the tiled run equals the whole-image run byte for byte.
///
/// Input: width, height, channels, tiling, pixel seed (one byte each), then the pipeline text.
enum PipelineTarget {
    static func run(_ data: [UInt8]) {
        guard data.count >= 5 else { return }
        let shape = Shape(width: 1 + Int(data[0]) % 64, height: 1 + Int(data[1]) % 64, channels: [1, 2, 3, 4][Int(data[2]) % 4])
        let size = 4 + Int(data[3] >> 1) % 61
        let requested: Tiling = data[3] & 1 == 0 ? .squares(size) : .strips(size)
        guard let pipeline = try? Pipeline(parsing: String(decoding: data[5...], as: UTF8.self)),
              let plan = try? Plan(pipeline, input: shape, maxPixels: 1 << 14) else { return }
        let tiling = plan.boundingHalo(requested)
        for stage in plan.stages { checkTiles(stage.tiles(tiling), of: stage) }
        let estimate = Cost.estimate(plan, tiling: tiling, decodeNanoseconds: 10, encodeNanoseconds: 1000)
        precondition(estimate.seconds.isFinite && estimate.seconds >= 0, "cost estimate \(estimate.seconds)")
        let image = noise(shape, seed: data[4])
        let whole = Runner.reference(image, plan: plan)
        precondition(whole.shape == plan.output, "reference is \(whole.shape), plan says \(plan.output)")
        let tiled = Runner.tiled(image, plan: plan, tiling: tiling)
        precondition(tiled == whole, "\(pipeline) on \(shape) cut as \(tiling): tiled result differs from the whole-image result")
    }

    static func checkTiles(_ tiles: [StageTile], of stage: Stage) {
        var covered = [UInt8](repeating: 0, count: stage.output.pixelCount)
        for tile in tiles {
            precondition(stage.output.bounds.contains(tile.core), "tile \(tile.core) outside \(stage.output)")
            precondition(stage.input.bounds.contains(tile.halo), "halo \(tile.halo) outside \(stage.input)")
            for y in tile.core.y..<tile.core.maxY {
                for x in tile.core.x..<tile.core.maxX { covered[y * stage.output.width + x] += 1 }
            }
        }
        precondition(covered.allSatisfy { $0 == 1 }, "tiles do not cover \(stage.output) exactly once")
    }

    /// Deterministic pixels: edges, flat runs and noise, so every op has work.
    static func noise(_ shape: Shape, seed: UInt8) -> Image {
        var state = UInt32(seed) &* 2_654_435_761 | 1
        var pixels = [UInt8](repeating: 0, count: shape.pixelCount * shape.channels)
        for i in pixels.indices {
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            pixels[i] = seed & 1 == 0 ? UInt8(truncatingIfNeeded: state) : UInt8(truncatingIfNeeded: state >> 31) * 255
        }
        return Image(width: shape.width, height: shape.height, channels: shape.channels, pixels: pixels)
    }
}
