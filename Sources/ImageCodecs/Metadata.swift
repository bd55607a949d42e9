import CPNG

/// What an image file carries beside its pixels: a colour profile, EXIF,
/// XMP and comments, read from a PNG, JPEG or WebP without decoding pixels
/// and written into an encoded result.
///
/// Results keep the source's ICC profile by default (its colours would shift
/// without it) and drop the rest (EXIF holds GPS positions and serial
/// numbers), as imgproxy does; ``Policy/all`` keeps everything. Damaged
/// metadata is left out, never a reason to refuse an image.
public struct Metadata: Sendable, Equatable {
    /// An ICC colour profile (PNG iCCP, JPEG APP2 `ICC_PROFILE`).
    public var icc: [UInt8]?
    /// The TIFF structure of an EXIF block (PNG eXIf, JPEG APP1 `Exif`).
    public var exif: [UInt8]?
    /// An XMP packet (PNG iTXt `XML:com.adobe.xmp`, JPEG APP1 Adobe namespace).
    public var xmp: [UInt8]?
    /// Comments (PNG tEXt `Comment`, JPEG COM).
    public var comments: [[UInt8]] = []

    /// - Parameters:
    ///   - icc: the ICC colour profile.
    ///   - exif: the EXIF block (a TIFF structure).
    ///   - xmp: the XMP packet.
    ///   - comments: JPEG COM or PNG text comments.
    public init(icc: [UInt8]? = nil, exif: [UInt8]? = nil, xmp: [UInt8]? = nil, comments: [[UInt8]] = []) {
        self.icc = icc
        self.exif = exif
        self.xmp = xmp
        self.comments = comments
    }

    /// What a result keeps of its source's metadata.
    public enum Policy: String, Sendable, CaseIterable {
        /// The colour profile only (the default).
        case profile
        /// Everything: profile, EXIF, XMP, comments.
        case all
    }

    public var isEmpty: Bool { icc == nil && exif == nil && xmp == nil && comments.isEmpty }

    /// The parts `policy` keeps.
    /// - Parameters:
    ///   - upright: the pixels were set upright by the EXIF orientation, so a
    ///     kept EXIF block now says 1: viewers would otherwise turn the image
    ///     a second time.
    ///   - inSRGB: the pixels were converted to sRGB: the profile no longer
    ///     describes them. A CMYK profile never describes the RGB written.
    public func kept(_ policy: Policy, upright: Bool = false, inSRGB: Bool = false) -> Metadata {
        var kept = policy == .all ? self : Metadata(icc: icc)
        if upright, let exif = kept.exif { kept.exif = Orientation.settingUpright(exif) }
        if inSRGB || kept.icc.map(Self.describesCMYK) == true { kept.icc = nil }
        return kept
    }

    /// The profile header's data colour space (bytes 16...19) says CMYK.
    static func describesCMYK(_ profile: [UInt8]) -> Bool {
        profile.count >= 20 && profile[16..<20].elementsEqual("CMYK".utf8)
    }

    /// The metadata of an encoded PNG, JPEG or WebP (empty for anything else).
    public static func read(_ bytes: [UInt8]) -> Metadata {
        var found = Metadata()
        if bytes.starts(with: pngSignature) {
            forEachPNGChunk(bytes) { type, data in found.readPNG(type, data) }
        } else if bytes.starts(with: [0xFF, 0xD8]) {
            var profile: [(sequence: UInt8, data: ArraySlice<UInt8>)] = []
            forEachJPEGSegment(bytes) { marker, data in
                if marker == 0xE2, data.starts(with: iccTag), data.count > iccTag.count + 2 {
                    profile.append((data[data.startIndex + iccTag.count], data.dropFirst(iccTag.count + 2)))
                } else {
                    found.readJPEG(marker, data)
                }
            }
            // Chunks are numbered from 1; a set with gaps or repeats is damaged and left out.
            profile.sort { $0.sequence < $1.sequence }
            if !profile.isEmpty, profile.enumerated().allSatisfy({ Int($1.sequence) == $0 + 1 }) {
                found.icc = profile.flatMap(\.data)
            }
        } else if bytes.withUnsafeBytes({ try? ImageFormat.sniff($0) }) == .avif {
            return AVIFCodec.metadata(bytes)
        } else if isWebP(bytes) {
            forEachWebPChunk(bytes) { type, data in
                switch type {
                case "ICCP" where found.icc == nil: found.icc = Array(data)
                case "EXIF" where found.exif == nil:
                    // Some writers keep the JPEG prefix.
                    found.exif = Array(data.starts(with: exifTag) ? data.dropFirst(exifTag.count) : data)
                case "XMP " where found.xmp == nil: found.xmp = Array(data)
                default: break
                }
            }
        }
        return found
    }

    /// `encoded` (a PNG, JPEG or WebP just written by ``Codec``) with this
    /// metadata in it, where readers look for it: after the JPEG's JFIF
    /// segment; after the PNG's IHDR (an iCCP replaces the sRGB, gAMA and
    /// cHRM chunks the encoder wrote, which it contradicts); in WebP's
    /// extended layout (VP8X). WebP has no comments: they are left out.
    /// AVIF is returned as it is (libavif writes metadata while encoding only).
    public func written(into encoded: [UInt8]) throws(CodecError) -> [UInt8] {
        if isEmpty { return encoded }
        if encoded.starts(with: Self.pngSignature) { return try writtenIntoPNG(encoded) }
        if encoded.starts(with: [0xFF, 0xD8]) { return writtenIntoJPEG(encoded) }
        if Self.isWebP(encoded) { return try writtenIntoWebP(encoded) }
        return encoded
    }

    // MARK: JPEG

    private static let iccTag = Array("ICC_PROFILE\0".utf8)
    private static let exifTag = Array("Exif\0\0".utf8)
    private static let xmpTag = Array("http://ns.adobe.com/xap/1.0/\0".utf8)
    /// Largest payload of one JPEG segment (its length field counts itself).
    private static let segmentPayload = 65533

    private mutating func readJPEG(_ marker: UInt8, _ data: ArraySlice<UInt8>) {
        if marker == 0xE1, data.starts(with: Self.exifTag), exif == nil { exif = Array(data.dropFirst(Self.exifTag.count)) }
        if marker == 0xE1, data.starts(with: Self.xmpTag), xmp == nil { xmp = Array(data.dropFirst(Self.xmpTag.count)) }
        if marker == 0xFE { comments.append(Array(data)) }
    }

    private func writtenIntoJPEG(_ encoded: [UInt8]) -> [UInt8] {
        var segments: [UInt8] = []
        func segment(_ marker: UInt8, _ payload: [UInt8]) {
            guard payload.count <= Self.segmentPayload else { return }   // cannot be stored in one segment
            let length = payload.count + 2
            segments += [0xFF, marker, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
        }
        if let exif { segment(0xE1, Self.exifTag + exif) }
        if let xmp { segment(0xE1, Self.xmpTag + xmp) }
        if let icc {
            let size = Self.segmentPayload - Self.iccTag.count - 2
            let count = (icc.count + size - 1) / size
            if count <= 255 {
                for k in 0..<count {
                    segment(0xE2, Self.iccTag + [UInt8(k + 1), UInt8(count)] + icc[(k * size)..<min(icc.count, (k + 1) * size)])
                }
            }
        }
        for comment in comments { segment(0xFE, comment) }
        // After SOI and the JFIF APP0 that must come first.
        var at = 2
        if encoded.count > 6, encoded[2] == 0xFF, encoded[3] == 0xE0 { at = 4 + (Int(encoded[4]) << 8 | Int(encoded[5])) }
        return Array(encoded[..<at]) + segments + encoded[at...]
    }

    /// Calls `body` with each header segment's marker and payload, up to the
    /// image data; stops at anything malformed.
    static func forEachJPEGSegment(_ b: [UInt8], _ body: (UInt8, ArraySlice<UInt8>) -> Void) {
        var i = 2
        while i + 4 <= b.count {
            guard b[i] == 0xFF else { return }
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }                          // fill byte
            if marker == 0xD8 || marker == 0x01 || (0xD0...0xD7).contains(marker) { i += 2; continue }
            if marker == 0xDA || marker == 0xD9 { return }                 // image data: no more headers
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= b.count else { return }
            body(marker, b[(i + 4)..<(i + 2 + length)])
            i += 2 + length
        }
    }

    // MARK: PNG

    private static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    private static let xmpKeyword = Array("XML:com.adobe.xmp".utf8)
    /// Largest profile or text inflated from a chunk.
    private static let inflateLimit = 16 << 20

    private mutating func readPNG(_ type: String, _ data: ArraySlice<UInt8>) {
        switch type {
        case "iCCP":
            // name, 0, compression method 0, zlib stream
            guard icc == nil, let end = data.firstIndex(of: 0), end + 1 < data.endIndex, data[end + 1] == 0 else { return }
            icc = Self.inflate(data[(end + 2)...])
        case "eXIf" where exif == nil:
            exif = Array(data)
        case "iTXt":
            // keyword, 0, compressed flag, method, language, 0, translated keyword, 0, text
            guard let k = data.firstIndex(of: 0), k + 2 < data.endIndex,
                  let language = data[(k + 3)...].firstIndex(of: 0),
                  let translated = data[(language + 1)...].firstIndex(of: 0) else { return }
            let text = data[(translated + 1)...]
            let value = data[k + 1] == 1 ? Self.inflate(text) : Array(text)
            if data[..<k].elementsEqual(Self.xmpKeyword), xmp == nil { xmp = value }
            if data[..<k].elementsEqual("Comment".utf8), let value { comments.append(value) }
        case "tEXt":
            guard let k = data.firstIndex(of: 0), data[..<k].elementsEqual("Comment".utf8) else { return }
            comments.append(Array(data[(k + 1)...]))
        default:
            return
        }
    }

    private func writtenIntoPNG(_ encoded: [UInt8]) throws(CodecError) -> [UInt8] {
        var chunks: [UInt8] = []
        func chunk(_ type: String, _ data: [UInt8]) {
            let body = Array(type.utf8) + data
            chunks += be32(UInt32(data.count)) + body + be32(body.withUnsafeBufferPointer { cpng_crc32($0.baseAddress, $0.count) })
        }
        if let icc {
            guard let packed = Self.deflate(icc) else { throw CodecError(.encodeFailed, "cannot compress the ICC profile") }
            chunk("iCCP", Array("ICC profile".utf8) + [0, 0] + packed)
        }
        if let exif { chunk("eXIf", exif) }
        if let xmp { chunk("iTXt", Self.xmpKeyword + [0, 0, 0, 0, 0] + xmp) }
        for comment in comments { chunk("iTXt", Array("Comment".utf8) + [0, 0, 0, 0, 0] + comment) }
        var out = Array(encoded[..<33])                                   // signature, IHDR
        out += chunks
        var i = 33
        while i + 12 <= encoded.count {
            let length = Int(be32(encoded, at: i))
            let type = String(decoding: encoded[(i + 4)..<(i + 8)], as: UTF8.self)
            let end = i + 12 + length
            if !(icc != nil && ["sRGB", "gAMA", "cHRM"].contains(type)) { out += encoded[i..<min(end, encoded.count)] }
            i = end
        }
        return out
    }

    /// Calls `body` with each chunk's type and data, up to IEND; stops at
    /// anything malformed.
    static func forEachPNGChunk(_ b: [UInt8], _ body: (String, ArraySlice<UInt8>) -> Void) {
        var i = 8
        while i + 12 <= b.count {
            let length = Int(be32(b, at: i))
            guard length <= b.count - i - 12 else { return }
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            if type == "IEND" { return }
            body(type, b[(i + 8)..<(i + 8 + length)])
            i += 12 + length
        }
    }

    private static func inflate(_ data: ArraySlice<UInt8>) -> [UInt8]? {
        PNGCodec.inflate(data, limit: inflateLimit)
    }

    private static func deflate(_ data: [UInt8]) -> [UInt8]? {
        var out: UnsafeMutablePointer<UInt8>?
        var size = 0
        let status = data.withUnsafeBufferPointer { cpng_deflate($0.baseAddress, $0.count, &out, &size) }
        defer { cpng_free(out) }
        guard status == 0, let out else { return nil }
        return Array(UnsafeBufferPointer(start: out, count: size))
    }
}

// MARK: WebP

extension Metadata {
    static func isWebP(_ b: [UInt8]) -> Bool {
        b.count >= 12 && b[0..<4].elementsEqual("RIFF".utf8) && b[8..<12].elementsEqual("WEBP".utf8)
    }

    /// Calls `body` with each RIFF chunk's type and data; stops at anything malformed.
    static func forEachWebPChunk(_ b: [UInt8], _ body: (String, ArraySlice<UInt8>) -> Void) {
        var i = 12
        while i + 8 <= b.count {
            let length = Int(le32(b, at: i + 4))
            guard length <= b.count - i - 8 else { return }
            body(String(decoding: b[i..<(i + 4)], as: UTF8.self), b[(i + 8)..<(i + 8 + length)])
            i += 8 + length + (length & 1)
        }
    }

    /// The extended layout: VP8X (flags, canvas size), ICCP, the image's
    /// chunks (ALPH, VP8 or VP8L), EXIF, XMP.
    fileprivate func writtenIntoWebP(_ encoded: [UInt8]) throws(CodecError) -> [UInt8] {
        var image: [UInt8] = []
        var flags: UInt8 = 0
        var canvas: [UInt8]?
        Self.forEachWebPChunk(encoded) { type, data in
            if type == "VP8X", data.count >= 10 {
                flags = data[data.startIndex] & 0x10                          // alpha
                canvas = Array(data.dropFirst(4).prefix(6))
            } else if ["ALPH", "VP8 ", "VP8L"].contains(type) {
                image += chunk(type, data)
            }
        }
        if canvas == nil {
            let info = try Codec.probe(encoded)
            canvas = le24(info.width - 1) + le24(info.height - 1)
        }
        var body = Array("WEBP".utf8)
        if icc != nil { flags |= 0x20 }
        if exif != nil { flags |= 0x08 }
        if xmp != nil { flags |= 0x04 }
        body += chunk("VP8X", [flags, 0, 0, 0] + canvas![...])
        if let icc { body += chunk("ICCP", icc[...]) }
        body += image
        if let exif { body += chunk("EXIF", exif[...]) }
        if let xmp { body += chunk("XMP ", xmp[...]) }
        return Array("RIFF".utf8) + le32(body.count) + body
    }

    private func chunk(_ type: String, _ data: ArraySlice<UInt8>) -> [UInt8] {
        Array(type.utf8) + le32(data.count) + data + (data.count & 1 == 1 ? [0] : [])
    }
}

private func le32(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)] }
private func le24(_ v: Int) -> [UInt8] { Array(le32(v).prefix(3)) }

private func le32(_ b: [UInt8], at i: Int) -> UInt32 {
    UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
}

private func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

private func be32(_ b: [UInt8], at i: Int) -> UInt32 {
    UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
}
