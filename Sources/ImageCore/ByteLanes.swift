/// 32 bytes at a time: one AVX2 register.
///
/// The standard library builds SIMD32's compares and wrapping arithmetic
/// from vector instructions, but its `replacing(with:where:)`, `&`, `|` and
/// `pointwiseMin` are loops the compiler leaves as 32 byte steps. The
/// minimum and maximum here are written in the vector operations only —
/// `y + (x - y)·[x < y]` — which the compiler folds into one `vpminub` or
/// `vpmaxub`.
typealias Bytes32 = SIMD32<UInt8>

/// 0xFF where the mask is set, 0 elsewhere.
@inline(__always)
func bytes(_ mask: SIMDMask<Bytes32.MaskStorage>) -> Bytes32 { unsafeBitCast(mask, to: Bytes32.self) }

@inline(__always)
func minimum(_ x: Bytes32, _ y: Bytes32) -> Bytes32 { y &+ (x &- y) &* (Bytes32() &- bytes(x .< y)) }

@inline(__always)
func maximum(_ x: Bytes32, _ y: Bytes32) -> Bytes32 { y &+ (x &- y) &* (Bytes32() &- bytes(y .< x)) }

@inline(__always)
func load32(_ p: UnsafePointer<UInt8>) -> Bytes32 { UnsafeRawPointer(p).loadUnaligned(as: Bytes32.self) }

/// The low byte of each lane, element by element (which the compiler turns
/// into narrowing instructions; the generic truncating initialiser is a call,
/// not inlined, in the loops that use this).
@inline(__always)
func lowBytes<Lane: FixedWidthInteger & SIMDScalar>(_ v: SIMD16<Lane>) -> SIMD16<UInt8> {
    SIMD16<UInt8>(UInt8(truncatingIfNeeded: v[0]), UInt8(truncatingIfNeeded: v[1]), UInt8(truncatingIfNeeded: v[2]),
                  UInt8(truncatingIfNeeded: v[3]), UInt8(truncatingIfNeeded: v[4]), UInt8(truncatingIfNeeded: v[5]),
                  UInt8(truncatingIfNeeded: v[6]), UInt8(truncatingIfNeeded: v[7]), UInt8(truncatingIfNeeded: v[8]),
                  UInt8(truncatingIfNeeded: v[9]), UInt8(truncatingIfNeeded: v[10]), UInt8(truncatingIfNeeded: v[11]),
                  UInt8(truncatingIfNeeded: v[12]), UInt8(truncatingIfNeeded: v[13]), UInt8(truncatingIfNeeded: v[14]),
                  UInt8(truncatingIfNeeded: v[15]))
}

/// `body(channels)` with the channel count (1...4) a constant in each branch,
/// so that loops over a pixel's channels in an inlined `body` unroll.
@inline(__always)
func withConstantChannels(_ channels: Int, _ body: (Int) -> Void) {
    switch channels {
    case 1: body(1)
    case 2: body(2)
    case 3: body(3)
    default: body(4)
    }
}
