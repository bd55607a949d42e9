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

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        // Magnitudes and derivatives over the output grown by one pixel,
        // zero outside the image (as OpenCV's suppression sees it).
        let ext = output.expanded(by: 1)
        let inside = ext.intersection(input.bounds)
        let ew = ext.width, eh = ext.height
        var mag = [Int32](repeating: 0, count: ew * eh)
        var dxs = [Int32](repeating: 0, count: ew * eh)
        var dys = [Int32](repeating: 0, count: ew * eh)
        let hood = Neighbourhood(output: inside, rx: 1, ry: 1, border: .replicate, input: input)
        let columns = hood.columns(originX: source.x)
        let rowMap = hood.rows(originY: source.y)
        let ch = input.channels, colorCh = input.colorChannels
        let rowBytes = source.image.rowBytes
        source.image.pixels.withUnsafeBufferPointer { sp in
            let s = sp.baseAddress!
            for y in 0..<inside.height {
                let a = s + rowMap[y] * rowBytes, b = s + rowMap[y + 1] * rowBytes, c = s + rowMap[y + 2] * rowBytes
                let e = (inside.y + y - ext.y) * ew + (inside.x - ext.x)
                for x in 0..<inside.width {
                    let l = columns[x] * ch, m = columns[x + 1] * ch, r = columns[x + 2] * ch
                    var best: Int32 = -1, bdx: Int32 = 0, bdy: Int32 = 0
                    for k in 0..<colorCh {
                        let dx = (Int32(a[r + k]) - Int32(a[l + k])) + 2 * (Int32(b[r + k]) - Int32(b[l + k]))
                            + (Int32(c[r + k]) - Int32(c[l + k]))
                        let dy = (Int32(c[l + k]) + 2 * Int32(c[m + k]) + Int32(c[r + k]))
                            - (Int32(a[l + k]) + 2 * Int32(a[m + k]) + Int32(a[r + k]))
                        let n = abs(dx) + abs(dy)
                        if n > best { best = n; bdx = dx; bdy = dy }
                    }
                    mag[e + x] = best; dxs[e + x] = bdx; dys[e + x] = bdy
                }
            }
        }
        let low = Int32(self.low), high = Int32(self.high)
        // tan(22.5°) in 15-bit fixed point, as OpenCV.
        let tg22: Int32 = 13573
        let image = Image(width: output.width, height: output.height, channels: 1) { d in
            for y in 0..<output.height {
                let row = (y + 1) * ew
                for x in 0..<output.width {
                    let j = row + x + 1
                    let m = mag[j]
                    var cls = EdgeClass.none
                    if m > low {
                        let xs = dxs[j], ys = dys[j]
                        let ax = abs(xs), ay = abs(ys) << 15
                        let tg22x = ax * tg22
                        var isMax: Bool
                        if ay < tg22x {
                            isMax = m > mag[j - 1] && m >= mag[j + 1]
                        } else {
                            let tg67x = tg22x + (ax << 16)
                            if ay > tg67x {
                                isMax = m > mag[j - ew] && m >= mag[j + ew]
                            } else {
                                let s = (xs ^ ys) < 0 ? -1 : 1
                                isMax = m > mag[j - ew - s] && m > mag[j + ew + s]
                            }
                        }
                        if isMax { cls = m > high ? .strong : .weak }
                    }
                    d[y * output.width + x] = cls.rawValue
                }
            }
        }
        return Region(image: image, x: output.x, y: output.y)
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
