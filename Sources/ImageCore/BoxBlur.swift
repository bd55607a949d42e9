/// `boxblur:R`: the mean of the `(2R+1)²` window, rounded; reflect-101
/// border. As `cv2.blur(img, (2R+1, 2R+1))`. R is 1...128.
public struct BoxBlur: TileOperation {
    public let radius: Int
    public init(radius: Int) {
        precondition((1...128).contains(radius))
        self.radius = radius
    }
    public var description: String { "boxblur:\(radius)" }
    public func outputShape(for input: Shape) -> Shape { input }

    func neighbourhood(_ output: Rect, _ input: Shape) -> Neighbourhood {
        Neighbourhood(output: output, rx: radius, ry: radius, border: .reflect101, input: input)
    }

    public func inputRect(for output: Rect, input: Shape) -> Rect {
        neighbourhood(output, input).inputRect
    }

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        let hood = neighbourhood(output, input)
        let need = hood.inputRect
        let ch = input.channels, r = radius, n = output.width * ch, taps = 2 * r + 1
        let columns = hood.columns(originX: source.x)
        let rowMap = hood.rows(originY: need.y)
        // Row sums of 2R+1 samples: at most 255 · 257, which fits 16 bits.
        let sums = RowBuffer<UInt16>(rows: need.height, length: n)
        let padded = RowBuffer<UInt8>(rows: 1, length: (output.width + 2 * r) * ch)
        let srcRowBytes = source.image.rowBytes
        source.image.pixels.withUnsafeBufferPointer { sp in
            columns.withUnsafeBufferPointer { cols in
                for row in 0..<need.height {
                    let line = sp.baseAddress! + (need.y + row - source.y) * srcRowBytes
                    let p = padded.base, out = sums.row(row)
                    fillPaddedRow(line, p, columns: cols, channels: ch)
                    for c in 0..<ch {
                        var s = 0
                        for k in 0..<taps { s += Int(p[k * ch + c]) }
                        out[c] = UInt16(s)
                    }
                    // Slide the window one pixel: add the sample entering, drop the one leaving.
                    for i in ch..<n {
                        out[i] = out[i - ch] &+ UInt16(p[i + (taps - 1) * ch]) &- UInt16(p[i - ch])
                    }
                }
            }
        }
        let inverse = 1.0 / Double(taps * taps)
        let image = Image(width: output.width, height: output.height, channels: ch) { dst in
            let column = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
            defer { column.deallocate() }
            column.initialize(repeating: 0, count: n)
            for k in 0..<taps {
                let s = sums.row(rowMap[k])
                for i in 0..<n { column[i] &+= UInt32(s[i]) }
            }
            for y in 0..<output.height {
                if y > 0 {
                    let add = sums.row(rowMap[y + taps - 1]), drop = sums.row(rowMap[y - 1])
                    for i in 0..<n { column[i] = column[i] &+ UInt32(add[i]) &- UInt32(drop[i]) }
                }
                let d = dst + y * n
                // The exact mean is never halfway (the window area is odd), so rounding is unambiguous.
                for i in 0..<n { d[i] = UInt8(truncatingIfNeeded: Int((Double(column[i]) * inverse).rounded())) }
            }
        }
        return Region(image: image, x: output.x, y: output.y)
    }
}
