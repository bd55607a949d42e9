import Foundation
import ImageCore
import Testing
import TestSupport

/// The many-lanes-at-once paths of the kernels give the bytes the one-at-a-time
/// definitions give, over every input they can meet.
@Suite("Kernels' vector paths")
struct LaneTests {
    @Test(arguments: [1, 2, 3, 4])
    func flipsAndQuarterTurnsMoveEveryPixelWhereTheDefinitionSays(_ channels: Int) throws {
        // Widths around the 16- and 22-pixel steps of the vector paths, tiles off the origin,
        // and turns crossing the 128-row and 512-pixel blocks.
        for (w, h) in [(1, 1), (5, 3), (21, 2), (22, 3), (37, 5), (64, 3), (101, 41), (141, 530)] {
            let image = testImage(width: w, height: h, channels: channels, seed: UInt64(w * 7 + h))
            let expected: [(String, (Int, Int) -> (Int, Int), Int, Int)] = [
                ("flip:h", { x, y in (w - 1 - x, y) }, w, h),
                ("flip:v", { x, y in (x, h - 1 - y) }, w, h),
                ("rotate:90", { x, y in (y, h - 1 - x) }, h, w),
                ("rotate:180", { x, y in (w - 1 - x, h - 1 - y) }, w, h),
                ("rotate:270", { x, y in (w - 1 - y, x) }, h, w),
            ]
            for (spec, from, ow, oh) in expected {
                let plan = try Plan(try Pipeline(parsing: spec), input: image.shape)
                let whole = Runner.reference(image, plan: plan)
                let want = Image(width: ow, height: oh, channels: channels) { p in
                    for y in 0..<oh {
                        for x in 0..<ow {
                            let (sx, sy) = from(x, y)
                            for c in 0..<channels { p[(y * ow + x) * channels + c] = image[sx, sy, c] }
                        }
                    }
                }
                #expect(whole == want, "\(spec) \(w)x\(h)x\(channels)")
                #expect(Runner.tiled(image, plan: plan, tileSize: 16) == want, "\(spec) \(w)x\(h)x\(channels) in tiles")
            }
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func medianIsTheMiddleOfTheSortedWindow(_ channels: Int) throws {
        // Radius 1 (sorted columns, 32 samples at a time) and 2-3 (sliding histograms).
        // Widths around the 32-sample vectors (and their tails), rows at the top and bottom
        // edges, and values packed into a few levels so that ties are common.
        for radius in 1...3 {
            // Rows of 700 pixels span several 1024-byte strips of the 3×3 path, some read in place.
            for (w, h) in [(1, 1), (2, 3), (10, 4), (11, 5), (33, 3), (70, 9), (700, 4)] {
                var image = testImage(width: w, height: h, channels: channels, seed: UInt64(w * 3 + h))
                if w == 70 { image.pixels = image.pixels.map { $0 & 0xC0 } }
                let plan = try Plan(try Pipeline(parsing: "median:\(radius)"), input: image.shape)
                let want = Image(width: w, height: h, channels: channels) { p in
                    for y in 0..<h {
                        for x in 0..<w {
                            for c in 0..<channels {
                                var window: [UInt8] = []
                                for dy in -radius...radius {
                                    for dx in -radius...radius { window.append(image[min(max(x + dx, 0), w - 1), min(max(y + dy, 0), h - 1), c]) }
                                }
                                p[(y * w + x) * channels + c] = window.sorted()[window.count / 2]
                            }
                        }
                    }
                }
                #expect(Runner.reference(image, plan: plan) == want, "median:\(radius) \(w)x\(h)x\(channels)")
                #expect(Runner.tiled(image, plan: plan, tileSize: 4) == want, "median:\(radius) \(w)x\(h)x\(channels) in tiles")
                if w == 700 {
                    #expect(Runner.tiled(image, plan: plan, tileSize: 400) == want, "median:\(radius) \(w)x\(h)x\(channels) in large tiles")
                }
            }
        }
    }

    /// clahe converts to Lab and back in runs of passes. On nearly every 24-bit
    /// colour (each once, scrambled so that every cell's histogram is broad; a
    /// width that leaves a short run at each row's end), RGB and RGBA, its bytes
    /// are those it gave converting pixel by pixel: the digests were taken from
    /// that code.
    @Test(arguments: [(3, "clahe:2:8", 0x88C9_0F26_1340_691A as UInt64), (4, "clahe:0:3", 0xCF45_FA7A_9A78_8C7C)])
    func claheInRunsGivesThePixelByPixelBytesOnEveryColour(_ channels: Int, _ spec: String, _ digest: UInt64) throws {
        let w = 4099, h = 4093
        let image = Image(width: w, height: h, channels: channels) { p in
            for i in 0..<(w * h) {
                // An odd multiplier permutes the residues modulo 2^24.
                let c = UInt32(truncatingIfNeeded: i &* 0x9E37_79B1) & 0xFF_FFFF
                let q = p + i * channels
                q[0] = UInt8(c >> 16); q[1] = UInt8(truncatingIfNeeded: c >> 8); q[2] = UInt8(truncatingIfNeeded: c)
                if channels == 4 { q[3] = UInt8(truncatingIfNeeded: i) }
            }
        }
        let out = Runner.reference(image, plan: try Plan(try Pipeline(parsing: spec), input: image.shape))
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325  // FNV-1a
        for byte in out.pixels { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        #expect(hash == digest, "\(spec) on \(channels) channels: digest \(String(hash, radix: 16))")
    }

    @Test func unsharpMaskingMatchesTheScalarStepsForEveryPair() {
        // Every (original, blurred) pair, in an order that puts each in every lane.
        var original: [UInt8] = [], blurred: [UInt8] = []
        for v in 0..<256 { for b in 0..<256 { original.append(UInt8(v)); blurred.append(UInt8(b)) } }
        original.append(200); blurred.append(3)  // one past a multiple of 16: the scalar tail
        for amount: Float in [0.3, 0.5, 1, 1.7, 2.5, 10, 64] {
            var out = blurred
            out.withUnsafeMutableBufferPointer { o in
                original.withUnsafeBufferPointer { Sharpen.combine($0.baseAddress!, o.baseAddress!, count: o.count, amount: amount) }
            }
            let mismatches = (0..<out.count).filter { out[$0] != Sharpen.combined(original[$0], blurred[$0], amount: amount) }
            #expect(mismatches.isEmpty, "amount \(amount): first at \(mismatches.first.map { "\(original[$0]),\(blurred[$0])" } ?? "")")
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func boxBlurIsTheRoundedMeanOfTheReflectedWindow(_ channels: Int) throws {
        // Radius 2 (16-bit sums, unrolled taps) and 8 (32-bit sums, running row sums).
        func reflect(_ p: Int, _ n: Int) -> Int {
            guard n > 1 else { return 0 }
            var p = p
            while p < 0 || p >= n { p = p < 0 ? -p : 2 * n - 2 - p }
            return p
        }
        for radius in [2, 8] {
            for (w, h) in [(3, 2), (17, 9), (40, 21)] {
                let image = testImage(width: w, height: h, channels: channels, seed: UInt64(w + 11 * h))
                let plan = try Plan(try Pipeline(parsing: "boxblur:\(radius)"), input: image.shape)
                let area = (2 * radius + 1) * (2 * radius + 1)
                let want = Image(width: w, height: h, channels: channels) { p in
                    for y in 0..<h {
                        for x in 0..<w {
                            for c in 0..<channels {
                                var sum = 0
                                for dy in -radius...radius {
                                    for dx in -radius...radius { sum += Int(image[reflect(x + dx, w), reflect(y + dy, h), c]) }
                                }
                                p[(y * w + x) * channels + c] = UInt8((2 * sum + area) / (2 * area))
                            }
                        }
                    }
                }
                #expect(Runner.reference(image, plan: plan) == want, "boxblur:\(radius) \(w)x\(h)x\(channels)")
                #expect(Runner.tiled(image, plan: plan, tileSize: 8) == want, "boxblur:\(radius) \(w)x\(h)x\(channels) in tiles")
            }
        }
    }

    @Test(arguments: [1, 2, 7, 8, 128])
    func boxMeansMatchTheScalarRoundingForEverySum(_ radius: Int) {
        let area = (2 * radius + 1) * (2 * radius + 1)
        let sums = (0...(255 * area)).map(UInt32.init) + [17]
        let inverse = 1 / Double(area)
        let want = sums.map { UInt8(truncatingIfNeeded: Int32(Double($0) * inverse + 0.5)) }
        var out = [UInt8](repeating: 0, count: sums.count)
        sums.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { BoxBlur.means(s.baseAddress!, $0.baseAddress!, count: s.count, inverse: inverse) }
        }
        let mismatches = (0..<sums.count).filter { out[$0] != want[$0] }
        #expect(mismatches.isEmpty, "radius \(radius): first at sum \(mismatches.first.map { sums[$0] } ?? 0)")
        // Sums of 16 bits (radius 7 or less) take the single-precision lanes.
        guard 255 * area <= Int(UInt16.max) else { return }
        let narrow = sums.map { UInt16($0) }
        narrow.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { BoxBlur.means(s.baseAddress!, $0.baseAddress!, count: s.count, inverse: 1 / Float(area)) }
        }
        let narrowMismatches = (0..<sums.count).filter { out[$0] != want[$0] }
        #expect(narrowMismatches.isEmpty, "radius \(radius), 16-bit sums: first at sum \(narrowMismatches.first.map { sums[$0] } ?? 0)")
    }

    @Test func tableLookupsMapEveryByteAndTheTail() throws {
        let table = (0..<256).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) }
        let source = (0..<(256 * 3 + 5)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var out = [UInt8](repeating: 0, count: source.count)
        table.withUnsafeBufferPointer { t in
            source.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { lookUp(s.baseAddress!, $0.baseAddress!, count: s.count, table: t.baseAddress!) }
            }
        }
        #expect(out == source.map { table[Int($0)] })
        // Two bytes to a lookup: every pair of bytes, in both halves of every 8-byte word, and a tail.
        var everyPair: [UInt8] = []
        for v in 0..<(1 << 16) { everyPair += [UInt8(v & 0xFF), UInt8(v >> 8)] }
        for v in 0..<(1 << 16) { everyPair += [1, UInt8(v & 0xFF), UInt8(v >> 8), 7] }
        everyPair += [9, 200, 31]
        let pairs = (0..<(1 << 16)).map { UInt16(table[$0 & 0xFF]) | UInt16(table[$0 >> 8]) << 8 }
        var paired = [UInt8](repeating: 0, count: everyPair.count)
        table.withUnsafeBufferPointer { t in
            pairs.withUnsafeBufferPointer { p in
                everyPair.withUnsafeBufferPointer { s in
                    paired.withUnsafeMutableBufferPointer {
                        lookUpPairs(s.baseAddress!, $0.baseAddress!, count: s.count, pairs: p.baseAddress!, table: t.baseAddress!)
                    }
                }
            }
        }
        #expect(paired == everyPair.map { table[Int($0)] })
        // An image large enough to take the pairs (a million samples and more), through the operation.
        let large = testImage(width: 701, height: 500, channels: 3, seed: 5)
        let gamma = Runner.reference(large, plan: try Plan(try Pipeline(parsing: "gamma:2.2"), input: large.shape))
        #expect(gamma.pixels == large.pixels.map { v in UInt8((255 * pow(Double(v) / 255, 1 / 2.2)).rounded()) })
    }

    /// contrast computed sixteen samples at a time gives its one-at-a-time
    /// steps for every byte in every lane, and the operation gives its table
    /// (the definition) for every factor, computed or looked up.
    @Test func contrastLanesGiveTheTable() throws {
        // Every byte value in every lane position, and a tail.
        let source = (0..<(256 * 17 + 5)).map { UInt8(truncatingIfNeeded: $0 * 7 / 3) }
        for factor in [0.01, 0.3, 0.5, 1.0, 1.2, 1.5, 2.0, 3.7, 10.0, 0.999_999_9, 1.000_000_1] {
            var out = [UInt8](repeating: 0, count: source.count)
            source.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { Contrast.lanes(s.baseAddress!, $0.baseAddress!, count: s.count, factor: Float(factor)) }
            }
            #expect(out == source.map { Contrast.lane($0, factor: Float(factor)) }, "contrast:\(factor)")
            let image = Image(width: source.count / 3, height: 1, channels: 3, pixels: Array(source.prefix(source.count / 3 * 3)))
            let result = Runner.reference(image, plan: try Plan(try Pipeline(parsing: "contrast:\(factor)"), input: image.shape))
            let definition = image.pixels.map { clampToByteForTest((Double($0) - 128) * factor + 128) }
            #expect(result.pixels == definition, "contrast:\(factor) gives its definition")
        }
    }

    func clampToByteForTest(_ v: Double) -> UInt8 {
        let r = v.rounded(.toNearestOrAwayFromZero)
        return r <= 0 ? 0 : (r >= 255 ? 255 : UInt8(r))
    }

    @Test(arguments: [1, 2, 3, 4])
    func bilinearResizeGivesTheFixedPointDefinition(_ channels: Int) throws {
        // The taps of cv2.resize(INTER_LINEAR) on 8-bit images: 11-bit weights per axis. Rows
        // long enough for the four-sample path of RGB(A), and its last pixels done one by one.
        func taps(_ d: Int, inSize: Int, outSize: Int) -> (Int, Int32) {
            var f = (Double(d) + 0.5) * Double(inSize) / Double(outSize) - 0.5
            var s = Int(f.rounded(.down))
            f -= Double(s)
            if s < 0 { s = 0; f = 0 }
            if s >= inSize - 1 { s = inSize - 1; f = 0 }
            return (s, Int32((1 - f) * 2048 + 0.5))
        }
        for (w, h, spec) in [(7, 5, "resize:1.5"), (33, 9, "resize:0.37"), (40, 12, "resize:2.3"), (17, 17, "resize:9x31"),
                              (301, 6, "resize:1.5")] {
            let image = testImage(width: w, height: h, channels: channels, seed: UInt64(w * 5 + h))
            let plan = try Plan(try Pipeline(parsing: spec), input: image.shape)
            let out = plan.output
            let want = Image(width: out.width, height: out.height, channels: channels) { p in
                for y in 0..<out.height {
                    let (sy, b0) = taps(y, inSize: h, outSize: out.height)
                    for x in 0..<out.width {
                        let (sx, a0) = taps(x, inSize: w, outSize: out.width)
                        for c in 0..<channels {
                            func v(_ x: Int, _ y: Int) -> Int32 { Int32(image[min(x, w - 1), min(y, h - 1), c]) }
                            let top = v(sx, sy) * a0 + v(sx + 1, sy) * (2048 - a0)
                            let bottom = v(sx, sy + 1) * a0 + v(sx + 1, sy + 1) * (2048 - a0)
                            p[(y * out.width + x) * channels + c] = UInt8((top * b0 + bottom * (2048 - b0) + (1 << 21)) >> 22)
                        }
                    }
                }
            }
            #expect(Runner.reference(image, plan: plan) == want, "\(spec) \(w)x\(h)x\(channels)")
            #expect(Runner.tiled(image, plan: plan, tileSize: 8) == want, "\(spec) \(w)x\(h)x\(channels) in tiles")
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func halvingGivesTheBilinearBytes(_ channels: Int) {
        // Widths around the 4-, 8- and 16-pixel steps of the vector paths, with tails.
        for (w, h) in [(2, 2), (6, 4), (34, 10), (70, 18), (202, 10)] {
            let image = testImage(width: w, height: h, channels: channels, seed: UInt64(w + h))
            let resize = Resize(.scale(0.5))
            let whole = Region(image: image, x: 0, y: 0)
            // The whole output, and a tile off the origin read from its own input rectangle.
            for o in [Rect(x: 0, y: 0, width: w / 2, height: h / 2), Rect(x: w / 4, y: h / 4, width: w / 4, height: max(1, h / 4))] {
                let part = whole.cropped(to: resize.inputRect(for: o, input: image.shape))
                #expect(Resize.halve(part, output: o, channels: channels) == resize.bilinear(part, output: o, input: image.shape).image,
                        "\(w)x\(h)x\(channels) \(o)")
            }
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func cannyClassesAreTheDefinitionsPixelByPixel(_ channels: Int) {
        // Sobel with replicated borders, per pixel the first colour channel of largest
        // |dx| + |dy|, suppression along the gradient (magnitude 0 outside the image) and
        // the two thresholds, as cv2.Canny. Widths around the vector steps and their tails,
        // few levels so that channels tie, and tiles whose edges cut through the image.
        for (w, h) in [(1, 1), (2, 3), (5, 4), (17, 6), (40, 9), (133, 7)] {
            var image = testImage(width: w, height: h, channels: channels, seed: UInt64(w * 11 + h))
            if w == 40 { image.pixels = image.pixels.map { $0 & 0xE0 } }
            let colours = channels >= 3 ? 3 : 1
            func v(_ x: Int, _ y: Int, _ c: Int) -> Int32 { Int32(image[min(max(x, 0), w - 1), min(max(y, 0), h - 1), c]) }
            func gradient(_ x: Int, _ y: Int) -> (m: Int32, dx: Int32, dy: Int32) {
                guard x >= 0 && x < w && y >= 0 && y < h else { return (0, 0, 0) }
                var best: (m: Int32, dx: Int32, dy: Int32) = (-1, 0, 0)
                for c in 0..<colours {
                    let dx = (v(x + 1, y - 1, c) - v(x - 1, y - 1, c)) + 2 * (v(x + 1, y, c) - v(x - 1, y, c)) + (v(x + 1, y + 1, c) - v(x - 1, y + 1, c))
                    let dy = (v(x - 1, y + 1, c) + 2 * v(x, y + 1, c) + v(x + 1, y + 1, c)) - (v(x - 1, y - 1, c) + 2 * v(x, y - 1, c) + v(x + 1, y - 1, c))
                    if abs(dx) + abs(dy) > best.m { best = (abs(dx) + abs(dy), dx, dy) }
                }
                return best
            }
            for (low, high) in [(40, 120), (150, 400)] {
                let want = Image(width: w, height: h, channels: 1) { p in
                    for y in 0..<h {
                        for x in 0..<w {
                            let (m, dx, dy) = gradient(x, y)
                            var cls = EdgeClass.none
                            if m > Int32(low) {
                                let ax = abs(dx), ay = abs(dy) << 15, tg22x = ax * 13573, tg67x = tg22x + (ax << 16)
                                let isMax: Bool
                                if ay < tg22x {
                                    isMax = m > gradient(x - 1, y).m && m >= gradient(x + 1, y).m
                                } else if ay > tg67x {
                                    isMax = m > gradient(x, y - 1).m && m >= gradient(x, y + 1).m
                                } else {
                                    let s = (dx ^ dy) < 0 ? -1 : 1
                                    isMax = m > gradient(x - s, y - 1).m && m > gradient(x + s, y + 1).m
                                }
                                if isMax { cls = m > Int32(high) ? .strong : .weak }
                            }
                            p[y * w + x] = cls.rawValue
                        }
                    }
                }
                let classify = CannyClassify(low: Double(low), high: Double(high))
                for tile in [max(w, h), 4] {
                    var got = Image(width: w, height: h, channels: 1)
                    for ty in stride(from: 0, to: h, by: tile) {
                        for tx in stride(from: 0, to: w, by: tile) {
                            let o = Rect(x: tx, y: ty, width: min(tile, w - tx), height: min(tile, h - ty))
                            let need = classify.inputRect(for: o, input: image.shape)
                            let part = classify.apply(Region(image: image.cropped(to: need), x: need.x, y: need.y), output: o, input: image.shape)
                            got.paste(part.image, atX: tx, y: ty)
                        }
                    }
                    #expect(got == want, "\(w)x\(h)x\(channels) \(low):\(high) in tiles of \(tile)")
                }
            }
        }
    }
}
