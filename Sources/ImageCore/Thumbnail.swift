/// `fit:WxH`: shrinks the image to fit inside W×H, keeping its aspect (never
/// enlarging), with an area filter.
public struct Fit: TileOperation {
    public let width: Int, height: Int
    /// - Parameters:
    ///   - width: the box's width.
    ///   - height: the box's height.
    public init(width: Int, height: Int) { (self.width, self.height) = (width, height) }
    public var description: String { "fit:\(width)x\(height)" }

    func resampler(_ input: Shape) -> AreaResampler {
        let scale = min(Double(width) / Double(input.width), Double(height) / Double(input.height), 1)
        return AreaResampler(input: input, width: max(1, Int((Double(input.width) * scale).rounded())),
                             height: max(1, Int((Double(input.height) * scale).rounded())))
    }

    public func outputShape(for input: Shape) -> Shape { resampler(input).output }
    public func inputRect(for output: Rect, input: Shape) -> Rect { resampler(input).inputRect(for: output) }
    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        Region(image: resampler(input).resample(source, output), x: output.x, y: output.y)
    }
}

/// `fill:WxH[:GRAVITY]`: scales the image to cover W×H, keeping its aspect,
/// with an area filter, and crops what overflows: around the centre, or
/// (`smart`) keeping the window with the most detail.
public struct Fill: TileOperation {
    public enum Gravity: String, Sendable { case centre, smart }
    public let width: Int, height: Int
    public let gravity: Gravity
    /// - Parameters:
    ///   - width: the box's width.
    ///   - height: the box's height.
    ///   - gravity: which part is kept when cropping.
    public init(width: Int, height: Int, gravity: Gravity = .centre) { (self.width, self.height, self.gravity) = (width, height, gravity) }
    public var description: String { "fill:\(width)x\(height)" + (gravity == .smart ? ":smart" : "") }

    /// The scaled image, and where the box starts in it.
    func layout(_ input: Shape) -> (AreaResampler, x: Int, y: Int) {
        let scale = max(Double(width) / Double(input.width), Double(height) / Double(input.height))
        let w = max(width, Int((Double(input.width) * scale).rounded())), h = max(height, Int((Double(input.height) * scale).rounded()))
        return (AreaResampler(input: input, width: w, height: h), (w - width) / 2, (h - height) / 2)
    }

    public func outputShape(for input: Shape) -> Shape { Shape(width: width, height: height, channels: input.channels) }
    public func inputRect(for output: Rect, input: Shape) -> Rect {
        // Smart gravity chooses from the whole image: every tile reads all of
        // it and makes the same choice, so tiles and ranks stay exact.
        if gravity == .smart { return Rect(x: 0, y: 0, width: input.width, height: input.height) }
        let (resampler, x, y) = layout(input)
        return resampler.inputRect(for: Rect(x: output.x + x, y: output.y + y, width: output.width, height: output.height))
    }
    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        let (resampler, x, y) = layout(input)
        guard gravity == .smart else {
            let shifted = Rect(x: output.x + x, y: output.y + y, width: output.width, height: output.height)
            return Region(image: resampler.resample(source, shifted), x: output.x, y: output.y)
        }
        let covering = resampler.resample(source, Rect(x: 0, y: 0, width: resampler.width, height: resampler.height))
        let (sx, sy) = Self.mostDetail(covering, width: width, height: height)
        return Region(image: covering.cropped(to: Rect(x: output.x + sx, y: output.y + sy, width: output.width, height: output.height)),
                      x: output.x, y: output.y)
    }

    /// Where the `width`×`height` window of `image` holds the most detail:
    /// the sum of absolute differences between neighbouring samples, by
    /// column (or row) along the side that overflows. Ties go to the window
    /// nearest the centre, so a flat image is cropped as `centre` does.
    static func mostDetail(_ image: Image, width: Int, height: Int) -> (x: Int, y: Int) {
        let w = image.width, h = image.height, ch = image.channels
        let horizontal = w > width
        var detail = [Int](repeating: 0, count: horizontal ? w : h)
        image.pixels.withUnsafeBufferPointer { p in
            for y in 0..<h {
                for x in 0..<w {
                    var d = 0
                    for c in 0..<ch {
                        let v = Int(p[(y * w + x) * ch + c])
                        if x > 0 { d += abs(v - Int(p[(y * w + x - 1) * ch + c])) }
                        if y > 0 { d += abs(v - Int(p[((y - 1) * w + x) * ch + c])) }
                    }
                    detail[horizontal ? x : y] += d
                }
            }
        }
        let window = horizontal ? width : height, slack = detail.count - window
        guard slack > 0 else { return ((w - width) / 2, (h - height) / 2) }
        var sum = detail[0..<window].reduce(0, +)
        var best = (offset: 0, sum: sum, distance: abs(0 - slack / 2))
        for start in 1...slack {
            sum += detail[start + window - 1] - detail[start - 1]
            let distance = abs(start - slack / 2)
            if sum > best.sum || (sum == best.sum && distance < best.distance) { best = (start, sum, distance) }
        }
        return horizontal ? (best.offset, (h - height) / 2) : ((w - width) / 2, best.offset)
    }
}

/// Area (box) resampling, as libvips' `reduce` and OpenCV's INTER_AREA do
/// for shrinking, though not bit-identical to either: each output pixel is
/// the mean of the input area it covers, edge pixels weighted by the part
/// covered. Weights depend only on the output position, so tiles and ranks
/// compute every pixel the same way.
struct AreaResampler {
    let input: Shape
    let width: Int, height: Int

    var output: Shape { Shape(width: width, height: height, channels: input.channels) }

    /// Input pixels and weights for output index `i` along an axis of
    /// `inSize` → `outSize`.
    static func taps(_ i: Int, _ inSize: Int, _ outSize: Int) -> (first: Int, weights: [Double]) {
        let scale = Double(inSize) / Double(outSize)
        let start = Double(i) * scale, end = Double(i + 1) * scale
        let first = Int(start.rounded(.down)), last = min(inSize, Int(end.rounded(.up)))
        let weights = (first..<last).map { j in (min(Double(j + 1), end) - max(Double(j), start)) / scale }
        return (first, weights)
    }

    static func span(_ from: Int, _ to: Int, _ inSize: Int, _ outSize: Int) -> Range<Int> {
        let scale = Double(inSize) / Double(outSize)
        return Int((Double(from) * scale).rounded(.down))..<min(inSize, Int((Double(to) * scale).rounded(.up)))
    }

    func inputRect(for o: Rect) -> Rect {
        let xs = Self.span(o.x, o.maxX, input.width, width), ys = Self.span(o.y, o.maxY, input.height, height)
        return Rect(x: xs.lowerBound, y: ys.lowerBound, width: xs.count, height: ys.count)
    }

    /// Each input row of the area is summed across to `o.width` samples, then
    /// those rows are summed down, one output row at a time, holding one
    /// summed row (the one two output rows share): no buffer the size of the
    /// area. Every sum adds its taps in the same order, so the result does
    /// not depend on the loops (nor on the tile).
    func resample(_ source: Region, _ o: Rect) -> Image {
        let ch = input.channels, rowLength = o.width * ch
        // The taps of every output column, flattened: first input column (in `source`), count, weights.
        var firsts = [Int](), counts = [Int](), weights = [Double]()
        for x in o.x..<o.maxX {
            let tap = Self.taps(x, input.width, width)
            firsts.append(tap.first - source.x)
            counts.append(tap.weights.count)
            weights += tap.weights
        }
        var across = [Double](repeating: 0, count: rowLength), held = -1
        var down = [Double](repeating: 0, count: rowLength)
        return Image(width: o.width, height: o.height, channels: ch) { d in
            for y in 0..<o.height {
                let tap = Self.taps(o.y + y, input.height, height)
                for i in 0..<rowLength { down[i] = 0 }
                for (k, weight) in tap.weights.enumerated() {
                    let row = tap.first + k
                    if row != held {
                        Self.sumAcross(source.image, row: row - source.y, firsts: firsts, counts: counts, weights: weights, into: &across)
                        held = row
                    }
                    for i in 0..<rowLength { down[i] += weight * across[i] }
                }
                for i in 0..<rowLength { d[y * rowLength + i] = UInt8(min(255, max(0, (down[i] + 0.5).rounded(.down)))) }
            }
        }
    }

    /// One row of `image` summed across: output column x is the weighted sum
    /// of `counts[x]` samples from column `firsts[x]`.
    static func sumAcross(_ image: Image, row: Int, firsts: [Int], counts: [Int], weights: [Double], into out: inout [Double]) {
        let ch = image.channels
        image.pixels.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { r in
                firsts.withUnsafeBufferPointer { firsts in
                    counts.withUnsafeBufferPointer { counts in
                        weights.withUnsafeBufferPointer { weights in
                            // A constant channel count lets the compiler unroll the innermost loops.
                            @inline(__always) func pass(_ ch: Int) {
                                let line = s.baseAddress! + row * image.width * ch
                                var out = r.baseAddress!, w = weights.baseAddress!
                                for x in 0..<firsts.count {
                                    var at = line + firsts[x] * ch
                                    var sum = SIMD4<Double>()
                                    for _ in 0..<counts[x] {
                                        let weight = w.pointee
                                        for c in 0..<ch { sum[c] += weight * Double(at[c]) }
                                        at += ch
                                        w += 1
                                    }
                                    for c in 0..<ch { out[c] = sum[c] }
                                    out += ch
                                }
                            }
                            switch ch {
                            case 1: pass(1)
                            case 2: pass(2)
                            case 3: pass(3)
                            default: pass(4)
                            }
                        }
                    }
                }
            }
        }
    }
}
