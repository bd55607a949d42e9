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
                Self.combine(sp.baseAddress!, bp.baseAddress!, count: sp.count, amount: a)
                if input.hasAlpha {
                    for i in stride(from: ch - 1, to: sp.count, by: ch) { bp[i] = sp[i] }
                }
            }
        }
        return Region(image: blurred, x: output.x, y: output.y)
    }

    /// `blurred[i] = v + amount·(v − blurred[i])` with `v = original[i]`, clamped
    /// and rounded half up.
    package static func combine(_ original: UnsafePointer<UInt8>, _ blurred: UnsafeMutablePointer<UInt8>, count n: Int, amount a: Float) {
        var i = 0
        // Sixteen at a time, with the same single-precision steps as one at a time.
        while i &+ 16 <= n {
            let v = floats(UnsafeRawPointer(original + i).loadUnaligned(as: SIMD16<UInt8>.self))
            let b = floats(UnsafeRawPointer(blurred + i).loadUnaligned(as: SIMD16<UInt8>.self))
            let u = v + a * (v - b)
            let r = pointwiseMax(pointwiseMin(u, SIMD16(repeating: 255)), SIMD16(repeating: 0))
            UnsafeMutableRawPointer(blurred + i).storeBytes(of: floorBytes(r + 0.5), as: SIMD16<UInt8>.self)
            i &+= 16
        }
        while i < n {
            blurred[i] = combined(original[i], blurred[i], amount: a)
            i &+= 1
        }
    }

    /// One sample of ``combine(_:_:count:amount:)``.
    package static func combined(_ original: UInt8, _ blurred: UInt8, amount a: Float) -> UInt8 {
        let v = Float(original)
        // Clamped first, so truncating `r + 0.5` rounds half up.
        let u = v + a * (v - Float(blurred))
        let r = u < 0 ? 0 : (u > 255 ? 255 : u)
        return UInt8(truncatingIfNeeded: Int32(r + 0.5))
    }
}

/// The sixteen bytes as floats (element by element, which the compiler turns
/// into widening instructions, unlike the generic initialiser).
@inline(__always)
func floats(_ v: SIMD16<UInt8>) -> SIMD16<Float> {
    SIMD16<Float>(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3]), Float(v[4]), Float(v[5]), Float(v[6]), Float(v[7]),
                  Float(v[8]), Float(v[9]), Float(v[10]), Float(v[11]), Float(v[12]), Float(v[13]), Float(v[14]), Float(v[15]))
}

/// `floor(t)` of values in 0...256 as bytes, without conversion instructions:
/// adding 2²³ rounds to the nearest integer and leaves it in the low bits;
/// one is taken off where that rounded up.
@inline(__always)
func floorBytes(_ t: SIMD16<Float>) -> SIMD16<UInt8> {
    let magic = SIMD16<Float>(repeating: 8_388_608)
    var q = (t + magic) - magic
    q.replace(with: q - 1, where: q .> t)
    return lowBytes(unsafeBitCast(q + magic, to: SIMD16<UInt32>.self))
}
