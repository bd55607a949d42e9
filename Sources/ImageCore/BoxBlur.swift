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
        let taps = 2 * radius + 1, area = taps * taps
        let image: Image
        if 255 * area <= Int(UInt16.max) {
            // Column sums fit 16 bits up to radius 7: half the memory traffic of
            // 32-bit sums, and means in single precision 16 lanes at a time.
            let inverse = 1 / Float(area)
            image = blur(source, output: output, input: input, sums: UInt16.self) { Self.means($0, $1, count: $2, inverse: inverse) }
        } else {
            let inverse = 1 / Double(area)
            image = blur(source, output: output, input: input, sums: UInt32.self) { Self.means($0, $1, count: $2, inverse: inverse) }
        }
        return Region(image: image, x: output.x, y: output.y)
    }

    /// The window sums of every output sample, one output row at a time, in
    /// `Sum`s wide enough for the whole window; `means` turns a row of them into bytes.
    @inline(__always)
    private func blur<Sum: FixedWidthInteger & UnsignedInteger>(
        _ source: Region, output: Rect, input: Shape, sums _: Sum.Type,
        means: (UnsafePointer<Sum>, UnsafeMutablePointer<UInt8>, Int) -> Void
    ) -> Image {
        let hood = neighbourhood(output, input)
        let ch = input.channels, r = radius, n = output.width * ch, taps = 2 * r + 1
        let columns = ColumnRun.runs(hood.columns(originX: source.x), channels: ch)
        let rowMap = hood.rows(originY: source.y)
        // Row sums (at most 255 · 257, so 16 bits) in a ring keyed by source row; one
        // output row adds the row entering the window and drops the one leaving, so
        // 2R+3 consecutive source rows are live at once.
        let slots = 2 * r + 3
        let ring = RowBuffer<UInt16>(rows: slots, length: n + 32)
        var held = [Int](repeating: -1, count: slots)
        let padded = RowBuffer<UInt8>(rows: 1, length: (output.width + 2 * r) * ch + 64)
        let srcRowBytes = source.image.rowBytes
        return source.image.pixels.withUnsafeBufferPointer { sp in
            columns.withUnsafeBufferPointer { runs in
                Image(width: output.width, height: output.height, channels: ch) { dst in
                    func rowSums(_ row: Int) -> UnsafeMutablePointer<UInt16> {
                        let slot = row % slots
                        if held[slot] != row {
                            fillPaddedRow(sp.baseAddress! + row * srcRowBytes, padded.base, runs: runs)
                            Self.rowPass(padded.base, ring.row(slot), count: n, channels: ch, taps: taps)
                            held[slot] = row
                        }
                        return ring.row(slot)
                    }
                    let column = UnsafeMutablePointer<Sum>.allocate(capacity: n)
                    defer { column.deallocate() }
                    column.initialize(repeating: 0, count: n)
                    for k in 0..<taps {
                        let s = rowSums(rowMap[k])
                        for i in 0..<n { column[i] &+= Sum(truncatingIfNeeded: s[i]) }
                    }
                    for y in 0..<output.height {
                        if y > 0 {
                            let drop = rowSums(rowMap[y - 1]), add = rowSums(rowMap[y + taps - 1])
                            for i in 0..<n {
                                column[i] = column[i] &+ Sum(truncatingIfNeeded: add[i]) &- Sum(truncatingIfNeeded: drop[i])
                            }
                        }
                        means(column, dst + y * n, n)
                    }
                }
            }
        }
    }

    /// `out[i] = sum[i] / area`, rounded, sixteen lanes at a time in single
    /// precision, for sums of at most 16 bits (radius 7 or less). The exact
    /// mean is never within 1/(2·area) ≥ 1/450 of a half, and the float
    /// product is within 255·2⁻²³ of it, so rounding it to nearest (by adding
    /// 1.5·2²³, whose last bits are then the integer) gives the same bytes as
    /// adding 0.5 to the exact mean and truncating.
    @inline(__always)
    package static func means(_ sum: UnsafePointer<UInt16>, _ out: UnsafeMutablePointer<UInt8>, count n: Int, inverse: Float) {
        let magic = SIMD16<Float>(repeating: 12_582_912)
        var i = 0
        while i &+ 16 <= n {
            let s = load16(sum + i)
            let v = SIMD16<Float>(Float(s[0]), Float(s[1]), Float(s[2]), Float(s[3]), Float(s[4]), Float(s[5]), Float(s[6]), Float(s[7]),
                                  Float(s[8]), Float(s[9]), Float(s[10]), Float(s[11]), Float(s[12]), Float(s[13]), Float(s[14]), Float(s[15]))
            store16(lowBytes(unsafeBitCast(v * inverse + magic, to: SIMD16<UInt32>.self)), UnsafeMutableRawPointer(out + i))
            i &+= 16
        }
        while i < n {
            out[i] = UInt8(truncatingIfNeeded: Int32((Float(sum[i]) * inverse).rounded(.toNearestOrEven)))
            i &+= 1
        }
    }

    /// `out[i] = sum[i] / area`, rounded, eight lanes at a time. The exact
    /// mean is never within 1/(2·area) of a half, so rounding the double
    /// product to nearest (by adding 1.5·2⁵², whose last bits are then the
    /// integer) gives the same bytes as adding 0.5 and truncating.
    @inline(__always)
    package static func means(_ sum: UnsafePointer<UInt32>, _ out: UnsafeMutablePointer<UInt8>, count n: Int, inverse: Double) {
        let magic = SIMD8<Double>(repeating: 6_755_399_441_055_744)
        var i = 0
        while i &+ 8 <= n {
            let s = UnsafeRawPointer(sum + i).loadUnaligned(as: SIMD8<UInt32>.self)
            let v = SIMD8<Double>(Double(s[0]), Double(s[1]), Double(s[2]), Double(s[3]),
                                  Double(s[4]), Double(s[5]), Double(s[6]), Double(s[7]))
            let bits = unsafeBitCast(v * inverse + magic, to: SIMD8<UInt64>.self)
            UnsafeMutableRawPointer(out + i).storeBytes(of: SIMD8<UInt8>(truncatingIfNeeded: bits), as: SIMD8<UInt8>.self)
            i &+= 8
        }
        while i < n {
            out[i] = UInt8(truncatingIfNeeded: Int32(Double(sum[i]) * inverse + 0.5))
            i &+= 1
        }
    }

    /// `out[i] = Σ src[i + k·ch]` for k < taps: directly, 16 at a time, for small
    /// windows; as a running sum for large ones.
    static func rowPass(_ p: UnsafePointer<UInt8>, _ out: UnsafeMutablePointer<UInt16>, count n: Int,
                        channels ch: Int, taps: Int) {
        // Direct sums with the tap count a constant, so that the taps are unrolled.
        @inline(__always) func direct(_ taps: Int) {
            var i = 0
            while i < n {
                var s = SIMD16<UInt16>()
                for k in 0..<taps {
                    let v = UnsafeRawPointer(p + (i &+ k &* ch)).loadUnaligned(as: SIMD16<UInt8>.self)
                    s &+= SIMD16<UInt16>(lowHalf: widen(v.lowHalf), highHalf: widen(v.highHalf))
                }
                UnsafeMutableRawPointer(out + i).storeBytes(of: s, as: SIMD16<UInt16>.self)
                i += 16
            }
        }
        switch taps {
        case 3: return direct(3)
        case 5: return direct(5)
        case 7: return direct(7)
        case 9: return direct(9)
        default: break
        }
        for c in 0..<ch {
            var s: UInt16 = 0
            for k in 0..<taps { s &+= UInt16(p[k &* ch &+ c]) }
            out[c] = s
        }
        for i in ch..<n {
            out[i] = out[i &- ch] &+ UInt16(p[i &+ (taps &- 1) &* ch]) &- UInt16(p[i &- ch])
        }
    }
}

/// Zero-extends 8 bytes to 16-bit lanes, element by element (which the
/// compiler turns into one widening instruction, unlike the generic initialiser).
@inline(__always)
func widen(_ v: SIMD8<UInt8>) -> SIMD8<UInt16> {
    SIMD8<UInt16>(UInt16(v[0]), UInt16(v[1]), UInt16(v[2]), UInt16(v[3]),
                  UInt16(v[4]), UInt16(v[5]), UInt16(v[6]), UInt16(v[7]))
}
