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
        let columns = hood.columns(originX: source.x)
        let rowMap = hood.rows(originY: source.y)
        let srcRowBytes = source.image.rowBytes
        let w = output.width
        let image = source.image.pixels.withUnsafeBufferPointer { sp in
            Image(width: w, height: output.height, channels: ch) { dst in
                let padded = RowBuffer<UInt8>(rows: 3, length: (w + 2) * ch)
                columns.withUnsafeBufferPointer { cols in
                    for y in 0..<output.height {
                        for k in 0..<3 {
                            fillPaddedRow(sp.baseAddress! + rowMap[y + k] * srcRowBytes, padded.row(k),
                                          columns: cols, channels: ch)
                        }
                        let a = padded.row(0), b = padded.row(1), c = padded.row(2)
                        let d = dst + y * w * ch
                        for x in 0..<w {
                            let l = x * ch, m = l + ch, rr = m + ch
                            for k in 0..<colorCh {
                                let gx = (Int(a[rr + k]) - Int(a[l + k])) + 2 * (Int(b[rr + k]) - Int(b[l + k]))
                                    + (Int(c[rr + k]) - Int(c[l + k]))
                                let gy = (Int(c[l + k]) + 2 * Int(c[m + k]) + Int(c[rr + k]))
                                    - (Int(a[l + k]) + 2 * Int(a[m + k]) + Int(a[rr + k]))
                                let mag = Double(gx * gx + gy * gy).squareRoot().rounded()
                                d[x * ch + k] = mag >= 255 ? 255 : UInt8(mag)
                            }
                            if colorCh < ch { d[x * ch + ch - 1] = b[m + ch - 1] }
                        }
                    }
                }
            }
        }
        return Region(image: image, x: output.x, y: output.y)
    }
}
