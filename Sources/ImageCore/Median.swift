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
}
