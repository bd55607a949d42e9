/// `sharpen:SIGMA:AMOUNT`: unsharp mask, `v' = v + AMOUNT · (v - blur(v))`
/// with the Gaussian of ``GaussianBlur`` (SIGMA), rounded and clamped, on
/// every channel but alpha. As `cv2.addWeighted(img, 1 + AMOUNT, blurred, -AMOUNT, 0)`.
public struct Sharpen: TileOperation {
    public let sigma: Double
    public let amount: Double
    let kernel: SeparableKernel

    public init(sigma: Double, amount: Double) {
        self.sigma = sigma
        self.amount = amount
        kernel = SeparableKernel.gaussian(sigma: sigma)
    }

    public var description: String { "sharpen:\(formatNumber(sigma)):\(formatNumber(amount))" }
    public func outputShape(for input: Shape) -> Shape { input }

    public func inputRect(for output: Rect, input: Shape) -> Rect {
        kernel.neighbourhood(output, input).inputRect
    }

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        var blurred = kernel.convolve(source, output: output, input: input)
        let original = source.cropped(to: output).image
        let ch = input.channels, keepAlpha = input.hasAlpha
        let a = amount
        original.pixels.withUnsafeBufferPointer { sp in
            blurred.pixels.withUnsafeMutableBufferPointer { bp in
                for i in 0..<sp.count {
                    if keepAlpha && i % ch == ch - 1 { bp[i] = sp[i]; continue }
                    let v = Double(sp[i])
                    bp[i] = clampToByte(v + a * (v - Double(bp[i])))
                }
            }
        }
        return Region(image: blurred, x: output.x, y: output.y)
    }
}
