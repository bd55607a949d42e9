/// `sharpen:SIGMA:AMOUNT`: unsharp mask, `v' = v + AMOUNT · (v - blur(v))`
/// with the Gaussian of ``GaussianBlur`` (SIGMA), rounded and clamped, on
/// every channel but alpha. As `cv2.addWeighted(img, 1 + AMOUNT, blurred, -AMOUNT, 0)`.
public struct Sharpen: TileOperation {
    public let sigma: Double
    public let amount: Double
    let kernel: SeparableKernel

    /// - Parameters:
    ///   - sigma: the blur subtracted (Gaussian sigma).
    ///   - amount: how much of the difference is added back.
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
        let ch = input.channels
        let a = Float(amount)
        original.pixels.withUnsafeBufferPointer { sp in
            blurred.pixels.withUnsafeMutableBufferPointer { bp in
                for i in 0..<sp.count {
                    let v = Float(sp[i])
                    // Clamped first, so truncating `r + 0.5` rounds half up.
                    let u = v + a * (v - Float(bp[i]))
                    let r = u < 0 ? 0 : (u > 255 ? 255 : u)
                    bp[i] = UInt8(truncatingIfNeeded: Int32(r + 0.5))
                }
                if input.hasAlpha {
                    for i in stride(from: ch - 1, to: sp.count, by: ch) { bp[i] = sp[i] }
                }
            }
        }
        return Region(image: blurred, x: output.x, y: output.y)
    }
}
