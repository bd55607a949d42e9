/// `median:R`: the median of the `(2R+1)²` window, per channel. The border
/// replicates the edge pixel, as `cv2.medianBlur(img, 2R+1)` does. R is 1...64.
public struct Median: TileOperation {
    public let radius: Int
    public init(radius: Int) {
        precondition((1...64).contains(radius))
        self.radius = radius
    }
    public var description: String { "median:\(radius)" }
    public func outputShape(for input: Shape) -> Shape { input }

    func neighbourhood(_ output: Rect, _ input: Shape) -> Neighbourhood {
        Neighbourhood(output: output, rx: radius, ry: radius, border: .replicate, input: input)
    }

    public func inputRect(for output: Rect, input: Shape) -> Rect {
        neighbourhood(output, input).inputRect
    }

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        if radius == 1 { return median3x3(source, output: output, input: input) }
        let hood = neighbourhood(output, input)
        let ch = input.channels, r = radius, taps = 2 * r + 1
        let columns = hood.columns(originX: source.x)
        let rowMap = hood.rows(originY: source.y)
        let srcRowBytes = source.image.rowBytes
        // The rank of the median among taps² samples.
        let half = taps * taps / 2
        let image = source.image.pixels.withUnsafeBufferPointer { sp in
            Image(width: output.width, height: output.height, channels: ch) { dst in
                // Huang's sliding histogram: one 256-bin histogram per channel, and per
                // channel the current median and the count of window samples below it.
                let hist = UnsafeMutablePointer<Int32>.allocate(capacity: 256 * ch)
                let lines = UnsafeMutablePointer<UnsafePointer<UInt8>>.allocate(capacity: taps)
                let median = UnsafeMutablePointer<Int>.allocate(capacity: ch), below = UnsafeMutablePointer<Int>.allocate(capacity: ch)
                defer { hist.deallocate(); lines.deallocate(); median.deallocate(); below.deallocate() }
                @inline(__always) func rows(_ ch: Int) {
                    for y in 0..<output.height {
                        for k in 0..<taps { lines[k] = sp.baseAddress! + rowMap[y + k] * srcRowBytes }
                        hist.initialize(repeating: 0, count: 256 * ch)
                        for j in 0..<taps {
                            let off = columns[j] * ch
                            for k in 0..<taps {
                                for c in 0..<ch { hist[c &* 256 &+ Int(lines[k][off &+ c])] &+= 1 }
                            }
                        }
                        for c in 0..<ch { median[c] = 0; below[c] = 0 }
                        let d = dst + y * output.width * ch
                        for x in 0..<output.width {
                            if x > 0 {
                                let drop = columns[x - 1] * ch, add = columns[x - 1 + taps] * ch
                                // Consecutive updates go to different channels' histograms, so
                                // that a repeated value does not wait on its own last update.
                                for k in 0..<taps {
                                    let line = lines[k]
                                    for c in 0..<ch {
                                        let h = hist + c &* 256
                                        let vo = Int(line[drop &+ c]), vi = Int(line[add &+ c])
                                        h[vo] &-= 1
                                        if vo < median[c] { below[c] &-= 1 }
                                        h[vi] &+= 1
                                        if vi < median[c] { below[c] &+= 1 }
                                    }
                                }
                            }
                            for c in 0..<ch {
                                let h = hist + c &* 256
                                var m = median[c], b = below[c]
                                // Move m until exactly `b <= half < b + h[m]`.
                                while b > half { m &-= 1; b &-= Int(h[m]) }
                                while b &+ Int(h[m]) <= half { b &+= Int(h[m]); m &+= 1 }
                                median[c] = m; below[c] = b
                                d[x &* ch &+ c] = UInt8(truncatingIfNeeded: m)
                            }
                        }
                    }
                }
                withConstantChannels(ch, rows)
            }
        }
        return Region(image: image, x: output.x, y: output.y)
    }

    /// 3×3 median from sorted columns: for each output row the three rows are
    /// sorted column by column (low, middle, high), and a pixel's median is the
    /// median of the highest of its three lows, the median of its middles and
    /// the lowest of its highs (Paeth): 32 samples at a time, with about half
    /// the compares of a 19-exchange network. A strip of the row at a time, so
    /// that the sorted columns stay in the L1 cache; strips inside the source
    /// rows read them in place, and only strips at a border copy their rows
    /// with the border applied.
    func median3x3(_ source: Region, output: Rect, input: Shape) -> Region {
        typealias Lanes = Bytes32
        let hood = neighbourhood(output, input)
        let ch = input.channels, n = output.width * ch, m = n + 2 * ch
        let columns = ColumnRun.runs(hood.columns(originX: source.x), channels: ch)
        let inPlace = columns.max { $0.count < $1.count }!
        let rowMap = hood.rows(originY: source.y)
        let srcRowBytes = source.image.rowBytes
        let strip = 1024, span = strip + 2 * ch + Lanes.scalarCount
        let copies = RowBuffer<UInt8>(rows: 3, length: span)
        let sorted = RowBuffer<UInt8>(rows: 3, length: span)
        let lows = sorted.row(0), middles = sorted.row(1), highs = sorted.row(2)
        let image = source.image.pixels.withUnsafeBufferPointer { sp in
            Image(width: output.width, height: output.height, channels: ch) { dst in
                @inline(__always) func store(_ v: Lanes, _ p: UnsafeMutablePointer<UInt8>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self) }
                @inline(__always) func middle(_ x: Lanes, _ y: Lanes, _ z: Lanes) -> Lanes {
                    maximum(minimum(x, y), minimum(maximum(x, y), z))
                }
                /// Padded row `k` from padded column `start` on, for `length` bytes: in
                /// place when the one long run covers them, else copied with the border.
                func paddedRow(_ k: Int, from start: Int, length: Int, slot: Int) -> UnsafePointer<UInt8> {
                    let line = sp.baseAddress! + rowMap[k] * srcRowBytes
                    if start >= inPlace.to && start + length <= inPlace.to + inPlace.count {
                        return line + inPlace.from + (start - inPlace.to)
                    }
                    let copy = copies.row(slot)
                    for run in columns {
                        let lower = max(run.to, start), upper = min(run.to + run.count, start + length)
                        if lower < upper { (copy + (lower - start)).update(from: line + run.from + (lower - run.to), count: upper - lower) }
                    }
                    return UnsafePointer(copy)
                }
                for y in 0..<output.height {
                    for start in stride(from: 0, to: n, by: strip) {
                        let count = min(strip, n - start)
                        // Bytes read: whole vectors over the strip and its two border pixels.
                        let length = (count + 2 * ch + Lanes.scalarCount - 1) / Lanes.scalarCount * Lanes.scalarCount
                        let a = paddedRow(y, from: start, length: length, slot: 0)
                        let b = paddedRow(y + 1, from: start, length: length, slot: 1)
                        let c = paddedRow(y + 2, from: start, length: length, slot: 2)
                        var j = 0
                        while j < count + 2 * ch {
                            let p = load32(a + j), q = load32(b + j), r = load32(c + j)
                            let low = minimum(p, q), high = maximum(p, q)
                            store(minimum(low, r), lows + j)
                            store(maximum(high, r), highs + j)
                            store(maximum(low, minimum(high, r)), middles + j)
                            j += Lanes.scalarCount
                        }
                        let d = dst + y * n + start
                        var i = 0
                        while i < count {
                            let low = maximum(maximum(load32(lows + i), load32(lows + i + ch)), load32(lows + i + 2 * ch))
                            let high = minimum(minimum(load32(highs + i), load32(highs + i + ch)), load32(highs + i + 2 * ch))
                            let mid = middle(load32(middles + i), load32(middles + i + ch), load32(middles + i + 2 * ch))
                            let median = middle(low, mid, high)
                            if i + Lanes.scalarCount <= count {
                                store(median, d + i)
                            } else {
                                for k in 0..<(count - i) { d[i + k] = median[k] }
                            }
                            i += Lanes.scalarCount
                        }
                    }
                }
            }
        }
        return Region(image: image, x: output.x, y: output.y)
    }
}
