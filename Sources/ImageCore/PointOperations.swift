import Foundation

/// `invert`: every colour sample `v` becomes `255 - v`; alpha is kept.
public struct Invert: LookupOperation {
    let table: [UInt8] = (0...255).map { UInt8(255 - $0) }
    public init() {}
    public var description: String { "invert" }

    func map(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, count: Int, shape: Shape) {
        let ch = shape.channels, n = count * ch
        var i = 0
        // 255 - v is v with every bit flipped: 16 samples at a time, alpha restored after.
        while i + 16 <= n {
            store16(~load16(src + i), UnsafeMutableRawPointer(dst + i))
            i += 16
        }
        while i < n { dst[i] = ~src[i]; i += 1 }
        if shape.hasAlpha {
            for a in stride(from: ch - 1, to: n, by: ch) { dst[a] = src[a] }
        }
    }
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
    /// Whether ``lane(_:factor:)`` gives every entry of the table: then samples
    /// are computed sixteen at a time, faster than looking them up.
    let lanesMatchTable: Bool
    public init(factor: Double) {
        self.factor = factor
        let table = (0...255).map { clampToByte((Double($0) - 128) * factor + 128) }
        self.table = table
        lanesMatchTable = (0...255).allSatisfy { Self.lane(UInt8($0), factor: Float(factor)) == table[$0] }
    }
    public var description: String { "contrast:\(formatNumber(factor))" }

    /// One sample in single precision: `(v - 128) · f + 128`, clamped, rounded to nearest (ties to even).
    package static func lane(_ v: UInt8, factor f: Float) -> UInt8 {
        let u = (Float(v) - 128) * f + 128
        let r = u < 0 ? 0 : (u > 255 ? 255 : u)
        return UInt8(r.rounded(.toNearestOrEven))
    }

    /// ``lane(_:factor:)`` over `count` samples, sixteen at a time with the same
    /// steps; the rounding adds 1.5·2²³, after which the low bits are the integer.
    package static func lanes(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, count n: Int, factor f: Float) {
        let magic = SIMD16<Float>(repeating: 12_582_912)
        var i = 0
        while i &+ 16 <= n {
            let v = floats(UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<UInt8>.self))
            let u = (v - 128) * f + 128
            let r = pointwiseMax(pointwiseMin(u, SIMD16(repeating: 255)), SIMD16(repeating: 0))
            UnsafeMutableRawPointer(dst + i).storeBytes(of: lowBytes(unsafeBitCast(r + magic, to: SIMD16<UInt32>.self)), as: SIMD16<UInt8>.self)
            i &+= 16
        }
        while i < n {
            dst[i] = lane(src[i], factor: f)
            i &+= 1
        }
    }

    func map(_ src: UnsafePointer<UInt8>, _ dst: UnsafeMutablePointer<UInt8>, count: Int, shape: Shape) {
        guard lanesMatchTable, !shape.hasAlpha else { return mapThroughTable(src, dst, count: count, shape: shape) }
        Self.lanes(src, dst, count: count * shape.channels, factor: Float(factor))
    }
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
        // Wrapping arithmetic on plain loops lets the compiler vectorise the strided loads.
        if ch == 3 {
            for p in 0..<count {
                let r = UInt32(src[3 &* p]), g = UInt32(src[3 &* p &+ 1]), b = UInt32(src[3 &* p &+ 2])
                dst[p] = UInt8(truncatingIfNeeded: (r &* 4899 &+ g &* 9617 &+ b &* 1868 &+ 8192) &>> 14)
            }
        } else {
            for p in 0..<count {
                let r = UInt32(src[4 &* p]), g = UInt32(src[4 &* p &+ 1]), b = UInt32(src[4 &* p &+ 2])
                dst[2 &* p] = UInt8(truncatingIfNeeded: (r &* 4899 &+ g &* 9617 &+ b &* 1868 &+ 8192) &>> 14)
                dst[2 &* p &+ 1] = src[4 &* p &+ 3]
            }
        }
    }
}

/// A number as pipeline text writes it: `2` rather than `2.0`.
func formatNumber(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
}
