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
        var found: ArraySlice<UInt8>?
        if b.starts(with: [0xFF, 0xD8]) {
            Metadata.forEachJPEGSegment(b) { marker, data in
                if found == nil, marker == 0xE1, data.starts(with: Array("Exif\0\0".utf8)) { found = data.dropFirst(6) }
            }
        } else if b.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            Metadata.forEachPNGChunk(b) { type, data in if found == nil, type == "eXIf" { found = data } }
        }
        return found
    }

    /// `tiff` (an EXIF block) stating orientation 1, for pixels already set upright.
    static func settingUpright(_ tiff: [UInt8]) -> [UInt8] {
        guard let at = orientationOffset(tiff[...]) else { return tiff }
        var upright = tiff
        let little = tiff[0] == 0x49
        upright[at] = little ? 1 : 0
        upright[at + 1] = little ? 0 : 1
        return upright
    }

    static func orientationTag(_ t: ArraySlice<UInt8>) -> Int? {
        guard let at = orientationOffset(t) else { return nil }
        let a = Int(t[t.startIndex + at]), b = Int(t[t.startIndex + at + 1])
        return t[t.startIndex] == 0x49 ? a | b << 8 : a << 8 | b
    }

    /// Where the value of tag 0x0112 of the first IFD (a SHORT) is, from the block's start.
    static func orientationOffset(_ t: ArraySlice<UInt8>) -> Int? {
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
                guard u16(at + 2) == 3, u16(at + 8) != nil else { return nil }   // SHORT
                return at + 8
            }
        }
        return nil
    }
}
