import ImageCore
import Testing
import TestSupport

/// The one rule: a tiled run is byte for byte the whole-image run, for every
/// operation, size, channel count and tile size. Seeded random cases; a
/// failure prints what to replay.
@Suite("Tiled runs equal the reference")
struct ExactnessTests {
    /// Sizes that catch edge cases (1×1, one row, primes) plus random ones up to ~1000×700.
    static func randomShape(_ rng: inout SeededRandom) -> (Int, Int) {
        let fixed = [(1, 1), (1, 7), (9, 1), (2, 3), (17, 13), (97, 61), (331, 7), (1009, 701)]
        if Int.random(in: 0..<3, using: &rng) == 0 { return fixed.randomElement(using: &rng)! }
        return (Int.random(in: 1...1000, using: &rng), Int.random(in: 1...700, using: &rng))
    }

    /// A tile size in 8...300, larger when it would make too many tiles for a quick test.
    static func randomTile(_ w: Int, _ h: Int, _ rng: inout SeededRandom) -> Int {
        var tile = Int.random(in: 8...300, using: &rng)
        while (w + tile - 1) / tile * ((h + tile - 1) / tile) > 400 { tile += 16 }
        return tile
    }

    func check(_ spec: String, seed: UInt64, rng: inout SeededRandom) throws {
        let (w, h) = Self.randomShape(&rng)
        let channels = [1, 2, 3, 4].randomElement(using: &rng)!
        let image = testImage(width: w, height: h, channels: channels, seed: seed)
        let plan = try Plan(try Pipeline(parsing: spec), input: image.shape)
        let tile = Self.randomTile(plan.stages.map(\.output.width).max()!, plan.stages.map(\.output.height).max()!, &rng)
        // Squares, or full-width strips of rows (as large images are cut).
        let tiling: Tiling = Bool.random(using: &rng) ? .squares(tile) : .strips(max(1, tile / 4))
        let reference = Runner.reference(image, plan: plan)
        let tiled = Runner.tiled(image, plan: plan, tiling: tiling)
        let difference = firstDifference(reference, tiled)
        #expect(difference == nil, "\(spec) on \(w)x\(h)x\(channels), tiles \(tiling), seed \(seed): \(difference ?? "")")
    }

    @Test("every operation alone", arguments: OperationInfo.all.map(\.name))
    func singleOperation(_ name: String) throws {
        for k in 0..<10 {
            let seed = UInt64(k) &* 7919 &+ UInt64(name.utf8.reduce(0) { $0 &* 31 &+ Int($1) } & 0xFFFF)
            var rng = SeededRandom(seed: seed)
            try check(randomSpec(name, using: &rng), seed: seed, rng: &rng)
        }
    }

    @Test("random chains of 1 to 4 operations")
    func chains() throws {
        let names = OperationInfo.all.map(\.name)
        for seed in UInt64(1)...60 {
            var rng = SeededRandom(seed: seed)
            let count = Int.random(in: 1...4, using: &rng)
            let spec = (0..<count).map { _ in randomSpec(names.randomElement(using: &rng)!, using: &rng) }
                .joined(separator: ",")
            try check(spec, seed: seed, rng: &rng)
        }
    }

    @Test("global steps in the middle of a pipeline")
    func globalStepsInTheMiddle() throws {
        let specs = ["blur:1,canny:50:150,boxblur:2", "clahe:3:4,sobel,clahe:2:8", "resize:0.7,clahe,rotate:90,canny",
                     "canny,clahe:2:3", "clahe,clahe,clahe"]
        for (k, spec) in specs.enumerated() {
            var rng = SeededRandom(seed: UInt64(1000 + k))
            try check(spec, seed: UInt64(1000 + k), rng: &rng)
        }
    }
}
