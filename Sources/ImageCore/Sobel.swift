/// `sobel`: gradient magnitude `sqrt(gx² + gy²)` of the 3×3 Sobel
/// derivatives, rounded and clamped to 255, per colour channel; alpha kept;
/// reflect-101 border. As `cv2.magnitude(cv2.Sobel(img, CV_32F, 1, 0), cv2.Sobel(img, CV_32F, 0, 1))`.
public struct Sobel: TileOperation {
    public init() {}
    public var description: String { "sobel" }
    public func outputShape(for input: Shape) -> Shape { input }

    func neighbourhood(_ output: Rect, _ input: Shape) -> Neighbourhood {
        Neighbourhood(output: output, rx: 1, ry: 1, border: .reflect101, input: input)
    }

    public func inputRect(for output: Rect, input: Shape) -> Rect {
        neighbourhood(output, input).inputRect
    }

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        let hood = neighbourhood(output, input)
        let ch = input.channels, colorCh = input.colorChannels
        let columns = ColumnRun.runs(hood.columns(originX: source.x), channels: ch)
        let rowMap = hood.rows(originY: source.y)
        let srcRowBytes = source.image.rowBytes
        let w = output.width
        let image = source.image.pixels.withUnsafeBufferPointer { sp in
            sobelRoot.withUnsafeBufferPointer { rootTable in
            Image(width: w, height: output.height, channels: ch) { dst in
                let root = rootTable.baseAddress!
                let padded = RowBuffer<UInt8>(rows: 3, length: (w + 2) * ch + 64)
                columns.withUnsafeBufferPointer { runs in
                    for y in 0..<output.height {
                        for k in 0..<3 {
                            fillPaddedRow(sp.baseAddress! + rowMap[y + k] * srcRowBytes, padded.row(k), runs: runs)
                        }
                        let a = padded.row(0), b = padded.row(1), c = padded.row(2)
                        let d = dst + y * w * ch
                        // Over samples, not pixels: left, centre and right are ch apart.
                        let c2 = 2 &* ch
                        for i in 0..<(w &* ch) {
                            let gx = (Int32(a[i &+ c2]) &- Int32(a[i])) &+ 2 &* (Int32(b[i &+ c2]) &- Int32(b[i]))
                                &+ (Int32(c[i &+ c2]) &- Int32(c[i]))
                            let gy = (Int32(c[i]) &+ 2 &* Int32(c[i &+ ch]) &+ Int32(c[i &+ c2]))
                                &- (Int32(a[i]) &+ 2 &* Int32(a[i &+ ch]) &+ Int32(a[i &+ c2]))
                            let x = abs(gx), y = abs(gy)
                            d[i] = x > 255 || y > 255 ? 255 : root[Int(x &<< 8 | y)]
                        }
                        if colorCh < ch {
                            for x in 0..<w { d[x &* ch &+ ch &- 1] = b[x &* ch &+ ch &+ ch &- 1] }
                        }
                    }
                }
            }
            }
        }
        return Region(image: image, x: output.x, y: output.y)
    }
}

/// `min(255, round(sqrt(x² + y²)))` for x, y in 0...255, indexed by `x << 8 | y`.
let sobelRoot: [UInt8] = (0..<65536).map { i in
    let x = Double(i >> 8), y = Double(i & 255)
    return UInt8(min(255, (x * x + y * y).squareRoot().rounded()))
}
