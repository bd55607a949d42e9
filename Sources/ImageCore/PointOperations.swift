import Foundation

/// `invert`: every colour sample `v` becomes `255 - v`; alpha is kept.
public struct Invert: LookupOperation {
    let table: [UInt8] = (0...255).map { UInt8(255 - $0) }
    public init() {}
    public var description: String { "invert" }
}

/// `brightness:DELTA`: adds `DELTA` (-255...255) to every colour sample, clamped to 0...255.
public struct Brightness: LookupOperation {
    public let delta: Int
    let table: [UInt8]
    public init(delta: Int) {
        self.delta = delta
        table = (0...255).map { UInt8(max(0, min(255, $0 + delta))) }
    }
    public var description: String { "brightness:\(delta)" }
}

/// `contrast:FACTOR`: scales colour samples about mid-grey,
/// `v' = round((v - 128) * FACTOR + 128)`, clamped; as OpenCV's
/// `convertTo(alpha: FACTOR, beta: 128 * (1 - FACTOR))`.
public struct Contrast: LookupOperation {
    public let factor: Double
    let table: [UInt8]
    public init(factor: Double) {
        self.factor = factor
        table = (0...255).map { clampToByte((Double($0) - 128) * factor + 128) }
    }
    public var description: String { "contrast:\(formatNumber(factor))" }
}

/// `gamma:G`: gamma correction, `v' = 255 * (v / 255)^(1/G)`; G > 1 brightens
/// mid-tones, G < 1 darkens them (ImageMagick's `-gamma` convention).
public struct Gamma: LookupOperation {
    public let gamma: Double
    let table: [UInt8]
    public init(gamma: Double) {
        self.gamma = gamma
        table = (0...255).map { clampToByte(255 * pow(Double($0) / 255, 1 / gamma)) }
    }
    public var description: String { "gamma:\(formatNumber(gamma))" }
}

/// `grayscale`: luma from RGB with OpenCV's weights and rounding
/// (`0.299 R + 0.587 G + 0.114 B` in 14-bit fixed point), so it matches
/// `cv2.cvtColor(..., COLOR_RGB2GRAY)` exactly. RGBA becomes gray+alpha;
/// gray images are unchanged.
public struct Grayscale: PointOperation {
    public init() {}
    public var description: String { "grayscale" }

    public func outputShape(for input: Shape) -> Shape {
        var out = input
        out.channels = input.channels == 3 ? 1 : (input.channels == 4 ? 2 : input.channels)
        return out
    }

    public func apply(_ source: Region, output: Rect, input: Shape) -> Region {
        let src = source.cropped(to: output).image
        let outChannels = outputShape(for: input).channels
        let out = src.pixels.withUnsafeBufferPointer { s in
            Image(width: src.width, height: src.height, channels: outChannels) { d in
                map(s.baseAddress!, d, count: src.width * src.height, shape: input)
            }
        }
        return Region(image: out, x: output.x, y: output.y)
    }

    func map(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, count: Int, shape: Shape) {
        let ch = shape.channels
        guard ch >= 3 else { dst.update(from: src, count: count * ch); return }
        let alpha = ch == 4
        let outCh = alpha ? 2 : 1
        for p in 0..<count {
            let s = src + p * ch
            dst[p * outCh] = luma(s[0], s[1], s[2])
            if alpha { dst[p * outCh + 1] = s[3] }
        }
    }
}

/// OpenCV's RGB to gray: weights 4899, 9617, 1868 out of 2^14, rounded.
@inline(__always)
func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
    UInt8(truncatingIfNeeded: (Int(r) * 4899 + Int(g) * 9617 + Int(b) * 1868 + 8192) >> 14)
}

/// A number as pipeline text writes it: `2` rather than `2.0`.
func formatNumber(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
}
