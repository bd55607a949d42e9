import ImageCore

/// The EXIF orientation of a photo: how its stored pixels must be turned to
/// be seen upright (phones store them as the sensor read them).
public enum Orientation: Int, Sendable, CaseIterable {
    /// Named by the turn that sets the pixels upright (1 needs none).
    case upright = 1, flipH, rotate180, flipV, transpose, rotate90, transverse, rotate270

    /// The geometry steps that set the stored pixels upright, as Pillow's
    /// `ImageOps.exif_transpose` does. They are ordinary steps of the plan,
    /// so tiled and distributed runs stay byte-exact.
    public var steps: [PipelineStep] {
        let h = PipelineStep.local(Flip(axis: .h))
        switch self {
        case .upright: return []
        case .flipH: return [h]
        case .rotate180: return [.local(Rotate(degrees: 180))]
        case .flipV: return [.local(Flip(axis: .v))]
        case .transpose: return [.local(Rotate(degrees: 90)), h]    // out(x, y) = in(y, x)
        case .rotate90: return [.local(Rotate(degrees: 90))]
        case .transverse: return [.local(Rotate(degrees: 270)), h]  // out(x, y) = in(W-1-y, H-1-x)
        case .rotate270: return [.local(Rotate(degrees: 270))]
        }
    }

    /// `pipeline` run on the upright image.
    public func upright(_ pipeline: Pipeline) -> Pipeline { Pipeline(steps: steps + pipeline.steps) }

    /// The orientation an encoded PNG (eXIf chunk) or JPEG (APP1 Exif) states;
    /// upright when it states none or the EXIF block is unreadable (a bad
    /// EXIF block never refuses an image that decodes).
    public static func of(_ bytes: [UInt8]) -> Orientation {
        guard let tiff = exifBlock(bytes), let value = orientationTag(tiff) else { return .upright }
        return Orientation(rawValue: value) ?? .upright
    }

    /// The TIFF structure of the EXIF block, found by walking the file's
    /// segments (JPEG) or chunks (PNG) without decoding anything.
    static func exifBlock(_ b: [UInt8]) -> ArraySlice<UInt8>? {
        if b.starts(with: [0xFF, 0xD8]) {
            var i = 2
            while i + 4 <= b.count {
                guard b[i] == 0xFF else { return nil }
                let marker = b[i + 1]
                if marker == 0xFF { i += 1; continue }                      // fill byte
                if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }
                if marker == 0xDA || marker == 0xD9 { return nil }          // image data: no more headers
                let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
                guard length >= 2, i + 2 + length <= b.count else { return nil }
                let data = b[(i + 4)..<(i + 2 + length)]
                if marker == 0xE1, data.starts(with: Array("Exif\0\0".utf8)) { return data.dropFirst(6) }
                i += 2 + length
            }
            return nil
        }
        if b.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            var i = 8
            while i + 12 <= b.count {
                let length = Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3])
                let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
                guard length >= 0, length <= b.count - i - 12 else { return nil }
                if type == "eXIf" { return b[(i + 8)..<(i + 8 + length)] }
                if type == "IEND" { return nil }
                i += 12 + length
            }
        }
        return nil
    }

    /// Tag 0x0112 of the first IFD, a SHORT.
    static func orientationTag(_ t: ArraySlice<UInt8>) -> Int? {
        let base = t.startIndex
        guard t.count >= 8 else { return nil }
        let little: Bool
        switch (t[base], t[base + 1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ at: Int) -> Int? {
            guard at >= 0, at + 2 <= t.count else { return nil }
            let a = Int(t[base + at]), b = Int(t[base + at + 1])
            return little ? a | b << 8 : a << 8 | b
        }
        func u32(_ at: Int) -> Int? {
            guard let lo = u16(little ? at : at + 2), let hi = u16(little ? at + 2 : at) else { return nil }
            return hi << 16 | lo
        }
        guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
        for entry in 0..<count {
            let at = ifd + 2 + entry * 12
            guard let tag = u16(at) else { return nil }
            if tag == 0x0112 {
                guard u16(at + 2) == 3 else { return nil }                  // SHORT
                return u16(at + 8)
            }
        }
        return nil
    }
}
