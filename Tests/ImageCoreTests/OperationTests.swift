import ImageCore
import Testing
import TestSupport

/// Known values of the kernels.
@Suite("Operations")
struct OperationTests {
    func run(_ spec: String, _ image: Image) throws -> Image {
        Runner.reference(image, plan: try Plan(try Pipeline(parsing: spec), input: image.shape))
    }

    @Test func invertTwiceIsIdentity() throws {
        let image = testImage(width: 57, height: 31, channels: 4, seed: 3)
        #expect(try run("invert,invert", image) == image)
        let once = try run("invert", image)
        #expect(once[0, 0, 0] == 255 - image[0, 0, 0])
        #expect(once[5, 5, 3] == image[5, 5, 3], "alpha is kept")
    }

    @Test(arguments: ["blur:3", "blur:0.5", "boxblur:4", "median:3", "sharpen:2:1.5", "resize:0.37", "resize:2.3", "clahe:0:1"])
    func constantImageStaysConstant(_ spec: String) throws {
        let image = Image(width: 41, height: 23, channels: 3, value: 77)
        let out = try run(spec, image)
        #expect(out.pixels.allSatisfy { $0 == 77 } || spec.hasPrefix("clahe"))
        #expect(Set(out.pixels).count == 1, "\(spec) of a constant image is constant")
    }

    @Test func grayscaleUsesOpenCVWeights() throws {
        let image = Image(width: 3, height: 1, channels: 3, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255])
        #expect(try run("grayscale", image).pixels == [76, 150, 29])
        let rgba = Image(width: 1, height: 1, channels: 4, pixels: [10, 20, 30, 40])
        #expect(try run("grayscale", rgba).pixels == [18, 40])
    }

    @Test func pointOperations() throws {
        let ramp = Image(width: 256, height: 1, channels: 1, pixels: (0...255).map(UInt8.init))
        #expect(try run("brightness:100", ramp)[200, 0, 0] == 255)
        #expect(try run("brightness:-50", ramp)[30, 0, 0] == 0)
        #expect(try run("contrast:1", ramp) == ramp)
        #expect(try run("gamma:1", ramp) == ramp)
        #expect(try run("gamma:2", ramp)[64, 0, 0] == 128, "255·(64/255)^(1/2) = 127.75")
        #expect(try run("contrast:2", ramp)[100, 0, 0] == 72, "(100-128)·2+128")
    }

    @Test func boxBlurOfAnImpulse() throws {
        var image = Image(width: 9, height: 9, channels: 1)
        image[4, 4, 0] = 255
        let out = try run("boxblur:1", image)
        #expect(out[4, 4, 0] == 28 && out[3, 3, 0] == 28 && out[2, 2, 0] == 0)
    }

    @Test func medianRemovesIsolatedNoise() throws {
        var image = Image(width: 20, height: 20, channels: 1, value: 100)
        image[5, 5, 0] = 255
        image[12, 7, 0] = 0
        #expect(try run("median:1", image).pixels.allSatisfy { $0 == 100 })
    }

    @Test func sobelOfAStep() throws {
        var image = Image(width: 10, height: 6, channels: 1)
        for y in 0..<6 { for x in 5..<10 { image[x, y, 0] = 40 } }
        let out = try run("sobel", image)
        #expect(out[2, 3, 0] == 0)
        #expect(out[4, 3, 0] == 160, "gx = 4 · 40 across the step")
    }

    @Test func cannyFindsTheOutlineOfASquare() throws {
        var image = Image(width: 100, height: 100, channels: 1)
        for y in 30..<70 { for x in 30..<70 { image[x, y, 0] = 200 } }
        let edges = try run("canny:100:200", image)
        #expect(edges.channels == 1)
        var onOutline = 0, elsewhere = 0
        for y in 0..<100 {
            for x in 0..<100 where edges[x, y, 0] == 255 {
                let nearX = abs(x - 30) <= 1 || abs(x - 69) <= 1, nearY = abs(y - 30) <= 1 || abs(y - 69) <= 1
                let inBand = (nearX && (29...70).contains(y)) || (nearY && (29...70).contains(x))
                if inBand { onOutline += 1 } else { elsewhere += 1 }
            }
        }
        #expect(elsewhere == 0)
        #expect(onOutline >= 4 * 38, "the whole outline is found: \(onOutline) pixels")
        #expect(Set(edges.pixels) == [0, 255])
    }

    @Test func cannyHysteresisKeepsWeakEdgesConnectedToStrongOnes() throws {
        // A step whose contrast fades along it: strong at the top, weak below.
        var image = Image(width: 40, height: 60, channels: 1)
        for y in 0..<60 { for x in 20..<40 { image[x, y, 0] = UInt8(max(10, 120 - 2 * y)) } }
        let low = try run("canny:60:300", image), high = try run("canny:300:300", image)
        let count = { (i: Image) in i.pixels.filter { $0 == 255 }.count }
        #expect(count(low) > count(high), "weak parts of the edge join through the strong part")
    }

    @Test func claheSpreadsALowContrastHistogram() throws {
        var pixels = [UInt8](repeating: 0, count: 128 * 96)
        for i in pixels.indices {
            let x = i % 128, y = i / 128
            pixels[i] = UInt8(100 + x / 6 + y / 8)
        }
        let image = Image(width: 128, height: 96, channels: 1, pixels: pixels)
        let range = { (i: Image) in Int(i.pixels.max()!) - Int(i.pixels.min()!) }
        #expect(range(image) < 40)
        let limited = try run("clahe:2:4", image), unlimited = try run("clahe:0:4", image)
        #expect(range(limited) > range(image) + 10, "the default clip limit spreads it a little: \(range(limited))")
        #expect(range(unlimited) > 200, "no clip limit spreads it to nearly the full range: \(range(unlimited))")
    }

    @Test func claheKeepsColourAndAlpha() throws {
        let image = testImage(width: 64, height: 48, channels: 4, seed: 11)
        let out = try run("clahe", image)
        #expect(out.shape == image.shape)
        for i in stride(from: 3, to: image.pixels.count, by: 4) { #expect(out.pixels[i] == image.pixels[i]) }
    }

    @Test func cropCutsToTheImageAndTilesExactly() throws {
        let image = testImage(width: 301, height: 203, channels: 3, seed: 8)
        #expect(try run("crop:10:20:100:50", image) == image.cropped(to: Rect(x: 10, y: 20, width: 100, height: 50)))
        #expect(try run("crop:250:200:100:50", image) == image.cropped(to: Rect(x: 250, y: 200, width: 51, height: 3)), "cut at the edges")
        for spec in ["crop:7:9:200:150,blur:2", "blur:1.5,crop:33:1:99:180,canny", "rotate:90,crop:100:0:60:301,clahe:2:3"] {
            let plan = try Plan(try Pipeline(parsing: spec), input: image.shape)
            #expect(Runner.tiled(image, plan: plan, tileSize: 37) == Runner.reference(image, plan: plan), "\(spec)")
        }
        #expect(throws: PipelineError.self) { try Plan(try Pipeline(parsing: "crop:301:0:5:5"), input: image.shape) }
        #expect(throws: PipelineError.self) { try Pipeline(parsing: "crop:1:2:0:5") }
    }

    @Test func thumbnailsFitAndFill() throws {
        let image = testImage(width: 300, height: 200, channels: 3, seed: 9)
        #expect(try run("fit:150x150", image).shape == Shape(width: 150, height: 100, channels: 3))
        #expect(try run("fit:1000x1000", image) == image, "never enlarges")
        #expect(try run("fill:100x100", image).shape == Shape(width: 100, height: 100, channels: 3))
        #expect(try run("fill:600x100", image).shape == Shape(width: 600, height: 100, channels: 3))
        // Halving is the mean of each 2x2 block, rounded.
        let half = try run("fit:150x100", image)
        for (x, y, c) in [(0, 0, 0), (17, 33, 1), (149, 99, 2)] {
            let sum = [(0, 0), (1, 0), (0, 1), (1, 1)].reduce(0) { $0 + Int(image[2 * x + $1.0, 2 * y + $1.1, c]) }
            #expect(Int(half[x, y, c]) == (2 * sum + 4) / 8, "at \(x),\(y)")
        }
        // A flat image stays flat; fill keeps the centre of the scaled image.
        #expect(try run("fit:77x31", Image(width: 300, height: 200, channels: 1, value: 93)).pixels.allSatisfy { $0 == 93 })
        let wide = try run("fill:150x200", image)
        #expect(wide == (try run("crop:75:0:150:200", image)), "same height: only the centre is cut")
        for spec in ["fit:97x61", "fill:64x64,blur:1", "blur:2,fill:250x40,sobel"] {
            let plan = try Plan(try Pipeline(parsing: spec), input: image.shape)
            #expect(Runner.tiled(image, plan: plan, tileSize: 23) == Runner.reference(image, plan: plan), "\(spec)")
        }
    }

    /// `fill:WxH:smart` keeps the window with the most detail; a flat image
    /// is cropped as `centre` crops it; tiles give the whole image's result.
    @Test func smartFillKeepsTheDetail() throws {
        // Two thirds flat, the rest noise: the window goes right. Turned, it goes down.
        let noise = testImage(width: 300, height: 100, channels: 3, seed: 4)
        let image = Image(width: 300, height: 100, channels: 3) { p in
            for y in 0..<100 { for x in 0..<300 { for c in 0..<3 { p[(y * 300 + x) * 3 + c] = x < 200 ? 50 : noise[x, y, c] } } }
        }
        #expect(try run("fill:100x100:smart", image) == (try run("crop:200:0:100:100", image)))
        #expect(try run("fill:100x100", image) == (try run("crop:100:0:100:100", image)))
        #expect(try run("rotate:90,fill:100x100:smart", image) == (try run("rotate:90,crop:0:200:100:100", image)))
        let flat = Image(width: 300, height: 200, channels: 1, value: 7)
        #expect(try run("fill:100x100:smart", flat) == (try run("fill:100x100", flat)))
        #expect(try Pipeline(parsing: "fill:90x60:smart").description == "fill:90x60:smart")
        #expect(try Pipeline(parsing: "fill:90x60:center").description == "fill:90x60")
        #expect(throws: PipelineError.self) { try Pipeline(parsing: "fill:90x60:left") }
        for spec in ["fill:64x64:smart", "blur:1,fill:120x40:smart,sobel"] {
            let plan = try Plan(try Pipeline(parsing: spec), input: image.shape)
            #expect(Runner.tiled(image, plan: plan, tileSize: 23) == Runner.reference(image, plan: plan), "\(spec)")
        }
    }

    @Test func geometry() throws {
        let image = testImage(width: 13, height: 7, channels: 3, seed: 5)
        #expect(try run("rotate:90,rotate:90,rotate:90,rotate:90", image) == image)
        #expect(try run("rotate:90,rotate:270", image) == image)
        #expect(try run("flip:h,flip:h", image) == image)
        #expect(try run("rotate:180", image) == run("flip:h,flip:v", image))
        let r = try run("rotate:90", image)
        #expect(r.width == 7 && r.height == 13)
        #expect(r[6, 0, 0] == image[0, 0, 0], "clockwise: the top-left corner goes to the top-right")
        #expect(try run("resize:13x7", image) == image)
        let s = try run("resize:0.5", image)
        #expect(s.width == 6 && s.height == 4)
        #expect(try run("resize:40x3", image).shape == Shape(width: 40, height: 3, channels: 3))
    }

    @Test func planSplitsAtGlobalSteps() throws {
        let shape = Shape(width: 50, height: 40, channels: 3)
        let canny = try Plan(try Pipeline(parsing: "grayscale,canny,blur"), input: shape)
        #expect(canny.stages.count == 2)
        #expect(canny.stages[0].finish == .hysteresis && canny.stages[0].ops.count == 2)
        #expect(canny.output.channels == 1)
        let clahe = try Plan(try Pipeline(parsing: "clahe:3:4,invert"), input: shape)
        #expect(clahe.stages.count == 2)
        #expect(clahe.stages[0].histograms?.grid == 4 && clahe.stages[1].equalise?.clip == 3)
        #expect(try Plan(try Pipeline(parsing: "invert,sobel"), input: shape).stages.count == 1)
    }

    @Test func planRefusesImagesOverTheLimit() throws {
        let pipeline = try Pipeline(parsing: "resize:100")
        #expect(throws: PipelineError.self) { try Plan(pipeline, input: Shape(width: 2000, height: 1000, channels: 3)) }
        let error = try #require(throws: PipelineError.self) {
            try Plan(pipeline, input: Shape(width: 2000, height: 1000, channels: 3))
        }
        #expect(error.description.contains("200000x100000"))
        #expect(error.code == .badSize)
    }

    @Test func tileGrid() {
        let grid = TileGrid(width: 10, height: 7, tileSize: 4)
        #expect(grid.count == 6)
        #expect(grid.rect(5) == Rect(x: 8, y: 4, width: 2, height: 3))
        #expect(TileGrid(width: 1, height: 1, tileSize: 256).rects == [Rect(x: 0, y: 0, width: 1, height: 1)])
    }

    @Test func borders() {
        #expect((-3...6).map { Border.reflect101.index($0, size: 4) } == [3, 2, 1, 0, 1, 2, 3, 2, 1, 0])
        #expect((-2...5).map { Border.replicate.index($0, size: 4) } == [0, 0, 0, 1, 2, 3, 3, 3])
        #expect(Border.reflect101.index(-5, size: 1) == 0)
        #expect(Border.reflect101.span(-9, 2, size: 3) == 0..<3)
        #expect(Border.reflect101.span(5, 12, size: 10) == 5..<10)
        #expect(Border.reflect101.span(-2, 1, size: 10) == 0..<3)
    }
}
