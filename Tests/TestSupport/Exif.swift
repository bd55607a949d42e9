/// `bytes` (a PNG or JPEG) with an EXIF block stating `orientation`, and a
/// GPS tag beside it, as a phone writes them: an APP1 segment after the JPEG's
/// SOI, or an eXIf chunk after the PNG's IHDR.
public func withExif(_ bytes: [UInt8], orientation: Int) -> [UInt8] {
    // Little-endian TIFF: IFD0 with Orientation (SHORT) and a GPS IFD pointer (LONG).
    var tiff: [UInt8] = [0x49, 0x49, 42, 0, 8, 0, 0, 0, 2, 0]
    tiff += [0x12, 0x01, 3, 0, 1, 0, 0, 0, UInt8(orientation), 0, 0, 0]
    tiff += [0x25, 0x88, 4, 0, 1, 0, 0, 0, 38, 0, 0, 0]
    tiff += [0, 0, 0, 0]                                  // no next IFD
    tiff += [1, 0, 0x01, 0x00, 2, 0, 2, 0, 0, 0] + Array("N\0".utf8) + [0, 0, 0, 0, 0, 0] // GPSLatitudeRef "N"
    if bytes.starts(with: [0xFF, 0xD8]) {
        let payload = Array("Exif\0\0".utf8) + tiff
        let length = payload.count + 2
        return [0xFF, 0xD8, 0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload + bytes[2...]
    }
    let type = Array("eXIf".utf8)
    let crc = crc32(type + tiff)
    let chunk = be32(tiff.count) + type + tiff + be32(Int(crc))
    let afterHeader = 8 + 25                               // signature, IHDR
    return Array(bytes[..<afterHeader]) + chunk + bytes[afterHeader...]
}

private func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

/// The CRC-32 of PNG chunks (and zip, gzip): reflected, polynomial 0xEDB88320.
public func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// `png` with its IHDR claiming `width` × `height` (CRC fixed up): a
/// decompression bomb's header over a file of a few bytes.
public func claimingSize(_ png: [UInt8], width: Int, height: Int) -> [UInt8] {
    var bytes = png
    // IHDR data starts at byte 16: width, height, then its CRC at 29...32.
    func put(_ v: Int, at i: Int) { for k in 0..<4 { bytes[i + k] = UInt8(truncatingIfNeeded: v >> (24 - 8 * k)) } }
    put(width, at: 16)
    put(height, at: 20)
    put(Int(crc32(Array(bytes[12..<29]))), at: 29)
    return bytes
}

/// `bytes` (a JPEG) with `profile` in APP2 `ICC_PROFILE` segments after the
/// SOI, cut as the ICC specification says (at most 65519 bytes each,
/// numbered from 1).
public func withICCProfile(_ bytes: [UInt8], _ profile: [UInt8]) -> [UInt8] {
    let size = 65519
    let count = (profile.count + size - 1) / size
    var segments: [UInt8] = []
    for k in 0..<count {
        let payload = Array("ICC_PROFILE\0".utf8) + [UInt8(k + 1), UInt8(count)] + profile[(k * size)..<min(profile.count, (k + 1) * size)]
        segments += [0xFF, 0xE2, UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)] + payload
    }
    return [0xFF, 0xD8] + segments + bytes[2...]
}

/// A made-up profile of `size` bytes (readers of metadata never parse it).
public func fakeProfile(size: Int, seed: UInt8) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}
