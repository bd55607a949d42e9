/// The tile-local part of `canny:LOW:HIGH`: 3×3 Sobel derivatives (border
/// replicated, as cv2.Canny), L1 magnitude `|dx| + |dy|`, non-maximum
/// suppression, and the double threshold. Its output is a 1-channel map of
/// ``EdgeClass`` values; the global step ``Hysteresis`` turns it into edges.
///
/// On colour images each pixel takes the derivatives of the channel with the
/// largest magnitude (the first one on a tie), as cv2.Canny does; alpha is ignored.
public struct CannyClassify: TileOperation {
    public let low: Int
    public let high: Int

    /// Thresholds as cv2.Canny takes them: floored, swapped when `low > high`.
    /// - Parameters:
    ///   - low: the lower hysteresis threshold (gradient magnitude).
    ///   - high: the upper threshold; edges start above it.
    public init(low: Double, high: Double) {
        let (a, b) = low <= high ? (low, high) : (high, low)
        self.low = Int(a.rounded(.down))
        self.high = Int(b.rounded(.down))
    }

    public var description: String { "canny-classify:\(low):\(high)" }

    public func outputShape(for input: Shape) -> Shape {
        Shape(width: input.width, height: input.height, channels: 1)
    }

    /// One pixel of halo for the derivatives and one for the suppression.
    public func inputRect(for output: Rect, input: Shape) -> Rect {
        output.expanded(by: 2).intersection(input.bounds)
    }

    /// Sobel derivatives and magnitudes over the output grown by one pixel
    /// (zero outside the image, as OpenCV's suppression sees it), kept three
    /// rows at a time in a ring; each output row is then classified from the
    /// three around it.
    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        let ext = output.expanded(by: 1)
        let sobel = SobelRows(source: source, grown: ext, input: input)
        // Ring slot k: magnitudes at k * w, dx at (3 + k) * w, dy at (6 + k) * w.
        let w = ext.width
        var ring = [Int32](repeating: 0, count: 9 * w)
        let low = Int32(self.low), high = Int32(self.high)
        let image = source.image.pixels.withUnsafeBufferPointer { sp in
            ring.withUnsafeMutableBufferPointer { rp in
                Image(width: output.width, height: output.height, channels: 1) { d in
                    let s = sp.baseAddress!, r = rp.baseAddress!
                    func compute(_ ey: Int) { sobel.row(ey, from: s, magnitude: r + ey % 3 * w, dx: r + (3 + ey % 3) * w, dy: r + (6 + ey % 3) * w) }
                    compute(0)
                    compute(1)
                    for y in 0..<output.height {
                        compute(y + 2)
                        let mid = (y + 1) % 3
                        Self.classify(above: r + y % 3 * w, row: r + mid * w, below: r + (y + 2) % 3 * w,
                                      dx: r + (3 + mid) * w, dy: r + (6 + mid) * w, count: output.width,
                                      low: low, high: high, into: d + y * output.width)
                    }
                }
            }
        }
        return Region(image: image, x: output.x, y: output.y)
    }

    /// Non-maximum suppression along the gradient and the two thresholds, for
    /// one row: OpenCV's integer test (tan 22.5° in 15-bit fixed point). The
    /// row pointers start one pixel left of the first output pixel.
    static func classify(above: UnsafePointer<Int32>, row: UnsafePointer<Int32>, below: UnsafePointer<Int32>,
                         dx: UnsafePointer<Int32>, dy: UnsafePointer<Int32>, count: Int,
                         low: Int32, high: Int32, into d: UnsafeMutablePointer<UInt8>) {
        let tg22: Int32 = 13573
        for x in 0..<count {
            let j = x + 1
            let m = row[j]
            var cls = EdgeClass.none
            if m > low {
                let xs = dx[j], ys = dy[j]
                let ax = abs(xs), ay = abs(ys) << 15
                let tg22x = ax &* tg22
                let isMax: Bool
                if ay < tg22x {
                    isMax = m > row[j - 1] && m >= row[j + 1]
                } else {
                    let tg67x = tg22x &+ (ax << 16)
                    if ay > tg67x {
                        isMax = m > above[j] && m >= below[j]
                    } else {
                        let s = (xs ^ ys) < 0 ? -1 : 1
                        isMax = m > above[j - s] && m > below[j + s]
                    }
                }
                if isMax { cls = m > high ? .strong : .weak }
            }
            d[x] = cls.rawValue
        }
    }
}

/// The 3×3 Sobel derivatives of a grown rectangle's rows (borders
/// replicated), keeping per pixel the channel with the largest |dx| + |dy|,
/// as `cv2.Canny` does on colour images.
struct SobelRows {
    let grown: Rect, inside: Rect
    let columns: [Int], rows: [Int]
    let channels: Int, colorChannels: Int, rowBytes: Int
    /// Pixels `lanes` of `inside` have their left and right neighbours next to
    /// them in the source row (no border): their samples' derivatives are taken
    /// all in one vectorised loop, and the channel picked per pixel after.
    let lanes: Range<Int>
    /// Per sample of the `lanes` pixels: dx, dy and |dx| + |dy|.
    let samples: RowBuffer<Int32>

    init(source: Region, grown: Rect, input: Shape) {
        self.grown = grown
        inside = grown.intersection(input.bounds)
        let hood = Neighbourhood(output: inside, rx: 1, ry: 1, border: .replicate, input: input)
        columns = hood.columns(originX: source.x)
        rows = hood.rows(originY: source.y)
        (channels, colorChannels, rowBytes) = (input.channels, input.colorChannels, source.image.rowBytes)
        let columns = self.columns
        let inner = (0..<inside.width).filter { x in
            let left = columns[x], middle = columns[x + 1], right = columns[x + 2]
            return left + 1 == middle && middle + 1 == right
        }
        lanes = inner.isEmpty ? 0..<0 : inner.first!..<(inner.last! + 1)
        samples = RowBuffer<Int32>(rows: 3, length: lanes.count * channels)
    }

    /// Row `ey` of the grown rectangle: zero where it lies outside the image.
    func row(_ ey: Int, from s: UnsafePointer<UInt8>, magnitude m: UnsafeMutablePointer<Int32>,
             dx mx: UnsafeMutablePointer<Int32>, dy my: UnsafeMutablePointer<Int32>) {
        m.update(repeating: 0, count: grown.width)
        let iy = grown.y + ey
        guard iy >= inside.y && iy < inside.maxY else { return }
        let j = iy - inside.y + 1
        let a = s + rows[j - 1] * rowBytes, b = s + rows[j] * rowBytes, c = s + rows[j + 1] * rowBytes
        let e0 = inside.x - grown.x, ch = channels
        func pixel(_ x: Int) {
            let l = columns[x] * ch, mm = columns[x + 1] * ch, r = columns[x + 2] * ch
            var best: Int32 = -1, bdx: Int32 = 0, bdy: Int32 = 0
            for k in 0..<colorChannels {
                let dx = (Int32(a[r + k]) &- Int32(a[l + k])) &+ 2 &* (Int32(b[r + k]) &- Int32(b[l + k]))
                    &+ (Int32(c[r + k]) &- Int32(c[l + k]))
                let dy = (Int32(c[l + k]) &+ 2 &* Int32(c[mm + k]) &+ Int32(c[r + k]))
                    &- (Int32(a[l + k]) &+ 2 &* Int32(a[mm + k]) &+ Int32(a[r + k]))
                let n = abs(dx) &+ abs(dy)
                if n > best { best = n; bdx = dx; bdy = dy }
            }
            m[e0 + x] = best; mx[e0 + x] = bdx; my[e0 + x] = bdy
        }
        for x in 0..<lanes.lowerBound { pixel(x) }
        if !lanes.isEmpty {
            let from = columns[lanes.lowerBound + 1] * ch, n = lanes.count * ch
            let sdx = samples.row(0), sdy = samples.row(1), sn = samples.row(2)
            let pa = a + from, pb = b + from, pc = c + from
            for i in 0..<n {
                let dx = (Int32(pa[i &+ ch]) &- Int32(pa[i &- ch])) &+ 2 &* (Int32(pb[i &+ ch]) &- Int32(pb[i &- ch]))
                    &+ (Int32(pc[i &+ ch]) &- Int32(pc[i &- ch]))
                let dy = (Int32(pc[i &- ch]) &+ 2 &* Int32(pc[i]) &+ Int32(pc[i &+ ch]))
                    &- (Int32(pa[i &- ch]) &+ 2 &* Int32(pa[i]) &+ Int32(pa[i &+ ch]))
                sdx[i] = dx; sdy[i] = dy; sn[i] = abs(dx) &+ abs(dy)
            }
            // The first channel with the largest magnitude, as one by one above.
            @inline(__always) func pick(_ ch: Int, _ colors: Int) {
                let out = e0 + lanes.lowerBound
                for x in 0..<lanes.count {
                    let q = x &* ch
                    var best = sn[q], k = q
                    for c in 1..<colors where sn[q &+ c] > best { best = sn[q &+ c]; k = q &+ c }
                    m[out &+ x] = best; mx[out &+ x] = sdx[k]; my[out &+ x] = sdy[k]
                }
            }
            switch (ch, colorChannels) {
            case (1, _): pick(1, 1)
            case (2, _): pick(2, 1)
            case (3, _): pick(3, 3)
            default: pick(4, 3)
            }
        }
        for x in lanes.upperBound..<inside.width { pixel(x) }
    }
}

/// The classes of the tile-local canny map.
public enum EdgeClass: UInt8, Sendable {
    case none = 0
    /// Above the low threshold and a local maximum: an edge if connected to a strong one.
    case weak = 1
    /// Above the high threshold and a local maximum: an edge.
    case strong = 2
}

/// Canny's global step: hysteresis over the whole stitched ``EdgeClass``
/// map. Weak pixels 8-connected to a strong pixel become edges. Output 255
/// on edges, 0 elsewhere. Runs once per image on the stitched map (at the
/// root rank after the gather, in distributed runs).
public enum Hysteresis {
    public static func apply(_ map: Image) -> Image {
        precondition(map.channels == 1)
        let w = map.width, h = map.height
        var out = map.pixels
        var stack: [Int] = []
        stack.reserveCapacity(1024)
        let strong = EdgeClass.strong.rawValue, weak = EdgeClass.weak.rawValue
        out.withUnsafeMutableBufferPointer { p in
            for i in 0..<(w * h) where p[i] == strong { stack.append(i) }
            while let i = stack.popLast() {
                let x = i % w, y = i / w
                for ny in max(0, y - 1)...min(h - 1, y + 1) {
                    for nx in max(0, x - 1)...min(w - 1, x + 1) {
                        let j = ny * w + nx
                        if p[j] == weak { p[j] = strong; stack.append(j) }
                    }
                }
            }
            for i in 0..<(w * h) { p[i] = p[i] == strong ? 255 : 0 }
        }
        return Image(width: w, height: h, channels: 1, pixels: out)
    }
}
