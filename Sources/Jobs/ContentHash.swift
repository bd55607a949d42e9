/// 128 bits of a fast non-cryptographic hash, 8 bytes at a time on two
/// lanes (multiply and rotate, then a final mix), for cache validators and
/// to recognise a repeated upload.
public enum ContentHash {
    /// The hash as 32 hex digits.
    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex($0) }
    }

    public static func hash128(_ bytes: [UInt8]) -> (UInt64, UInt64) {
        bytes.withUnsafeBytes { hash128($0) }
    }

    /// The same hash of bytes held elsewhere (a file read into a network buffer).
    public static func hex(_ raw: UnsafeRawBufferPointer) -> String {
        let (a, b) = hash128(raw)
        func digits(_ v: UInt64) -> String { let d = String(v, radix: 16); return String(repeating: "0", count: 16 - d.count) + d }
        return digits(a) + digits(b)
    }

    public static func hash128(_ raw: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        let k1: UInt64 = 0x9E37_79B9_7F4A_7C15, k2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
        var a: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(raw.count), b: UInt64 = 0x1319_8A2E_0370_7344
        let words = raw.count / 16
        for i in 0..<words {
            let x = raw.loadUnaligned(fromByteOffset: i * 16, as: UInt64.self)
            let y = raw.loadUnaligned(fromByteOffset: i * 16 + 8, as: UInt64.self)
            a = ((a ^ x) &* k1).rotated(31) &+ b
            b = ((b ^ y) &* k2).rotated(29) &+ a
        }
        for byte in raw[(words * 16)...] { a = ((a ^ UInt64(byte)) &* k1).rotated(31) }
        return (mix(a &+ b), mix(b ^ (a &* k2)))
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

private extension UInt64 {
    func rotated(_ n: UInt64) -> UInt64 { (self << n) | (self >> (64 - n)) }
}
