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
                // Huang's sliding histogram: one 256-bin histogram per channel.
                let hist = UnsafeMutablePointer<Int32>.allocate(capacity: 256 * ch)
                let lines = UnsafeMutablePointer<UnsafePointer<UInt8>>.allocate(capacity: taps)
                defer { hist.deallocate(); lines.deallocate() }
                var median = [Int](repeating: 0, count: ch)
                var below = [Int](repeating: 0, count: ch)
                for y in 0..<output.height {
                    for k in 0..<taps { lines[k] = sp.baseAddress! + rowMap[y + k] * srcRowBytes }
                    hist.initialize(repeating: 0, count: 256 * ch)
                    for j in 0..<taps {
                        let off = columns[j] * ch
                        for k in 0..<taps {
                            for c in 0..<ch { hist[c * 256 + Int(lines[k][off + c])] += 1 }
                        }
                    }
                    for c in 0..<ch { median[c] = 0; below[c] = 0 }
                    let d = dst + y * output.width * ch
                    for x in 0..<output.width {
                        if x > 0 {
                            let drop = columns[x - 1] * ch, add = columns[x - 1 + taps] * ch
                            for k in 0..<taps {
                                let line = lines[k]
                                for c in 0..<ch {
                                    let h = hist + c * 256
                                    let vo = Int(line[drop + c]), vi = Int(line[add + c])
                                    h[vo] -= 1
                                    if vo < median[c] { below[c] -= 1 }
                                    h[vi] += 1
                                    if vi < median[c] { below[c] += 1 }
                                }
                            }
                        }
                        for c in 0..<ch {
                            let h = hist + c * 256
                            var m = median[c], b = below[c]
                            // Move m until exactly `b <= half < b + h[m]`.
                            while b > half { m -= 1; b -= Int(h[m]) }
                            while b + Int(h[m]) <= half { b += Int(h[m]); m += 1 }
                            median[c] = m; below[c] = b
                            d[x * ch + c] = UInt8(m)
                        }
                    }
                }
            }
        }
        return Region(image: image, x: output.x, y: output.y)
    }

    /// 3×3 median with a 19-exchange sorting network on 16 samples at a time;
    /// each source row is padded once, into a ring of three.
    func median3x3(_ source: Region, output: Rect, input: Shape) -> Region {
        typealias Lanes = SIMD16<UInt8>
        let hood = neighbourhood(output, input)
        let ch = input.channels, n = output.width * ch
        let columns = ColumnRun.runs(hood.columns(originX: source.x), channels: ch)
        let rowMap = hood.rows(originY: source.y)
        let srcRowBytes = source.image.rowBytes
        let padded = RowBuffer<UInt8>(rows: 3, length: (output.width + 2) * ch + 32)
        var held = [-1, -1, -1]
        let image = source.image.pixels.withUnsafeBufferPointer { sp in
            columns.withUnsafeBufferPointer { runs in
                Image(width: output.width, height: output.height, channels: ch) { dst in
                    func row(_ k: Int) -> UnsafeMutablePointer<UInt8> {
                        // Padded rows k, k+1, k+2 of three consecutive ones never share a slot.
                        let slot = k % 3
                        if held[slot] != k {
                            fillPaddedRow(sp.baseAddress! + rowMap[k] * srcRowBytes, padded.row(slot), runs: runs)
                            held[slot] = k
                        }
                        return padded.row(slot)
                    }
                    @inline(__always) func load(_ p: UnsafePointer<UInt8>) -> Lanes { UnsafeRawPointer(p).loadUnaligned(as: Lanes.self) }
                    // One compare and two blends (the generic pointwiseMin/Max are not turned into min/max instructions).
                    @inline(__always) func sort(_ x: inout Lanes, _ y: inout Lanes) {
                        let greater = y .< x
                        let low = x.replacing(with: y, where: greater)
                        y.replace(with: x, where: greater)
                        x = low
                    }
                    for y in 0..<output.height {
                        let a = row(y), b = row(y + 1), c = row(y + 2)
                        let d = dst + y * n
                        var i = 0
                        while i < n {
                            var p0 = load(a + i), p1 = load(a + i + ch), p2 = load(a + i + 2 * ch)
                            var p3 = load(b + i), p4 = load(b + i + ch), p5 = load(b + i + 2 * ch)
                            var p6 = load(c + i), p7 = load(c + i + ch), p8 = load(c + i + 2 * ch)
                            sort(&p1, &p2); sort(&p4, &p5); sort(&p7, &p8)
                            sort(&p0, &p1); sort(&p3, &p4); sort(&p6, &p7)
                            sort(&p1, &p2); sort(&p4, &p5); sort(&p7, &p8)
                            sort(&p0, &p3); sort(&p5, &p8); sort(&p4, &p7)
                            sort(&p3, &p6); sort(&p1, &p4); sort(&p2, &p5)
                            sort(&p4, &p7); sort(&p4, &p2); sort(&p6, &p4)
                            sort(&p4, &p2)
                            if i + Lanes.scalarCount <= n {
                                UnsafeMutableRawPointer(d + i).storeBytes(of: p4, as: Lanes.self)
                            } else {
                                for j in 0..<(n - i) { d[i + j] = p4[j] }
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
