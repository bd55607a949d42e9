import ImageCodecs
import ImageCore
import Testing
import TestSupport

@Suite("Metadata: colour profile kept, EXIF stripped")
struct MetadataTests {
    let profile = fakeProfile(size: 70_000, seed: 3)   // two APP2 segments

    @Test func aJPEGsProfileAndExifAreRead() throws {
        let plain = try Codec.encode(testImage(width: 9, height: 5, channels: 3, seed: 1), as: .jpeg)
        let photo = withExif(withICCProfile(plain, profile), orientation: 6)
        let found = Metadata.read(photo)
        #expect(found.icc == profile)
        #expect(found.exif.flatMap { Orientation.of(exifAlone($0)) } == .rotate90)
        #expect(Metadata.read(plain).isEmpty)
        // A set of segments with a gap or a repeat drops the profile.
        var broken = withICCProfile(plain, profile)
        broken[2 + 4 + 12] = 3                                       // first segment claims to be number 3
        #expect(Metadata.read(broken).icc == nil)
    }

    /// By default a result keeps the profile and nothing else; `.all` keeps
    /// EXIF too, saying upright once the pixels were turned.
    @Test(arguments: [ImageFormat.jpeg, .png])
    func aResultKeepsWhatThePolicySays(_ output: ImageFormat) throws {
        let plain = try Codec.encode(testImage(width: 9, height: 5, channels: 3, seed: 1), as: .jpeg)
        var source = Metadata.read(withExif(withICCProfile(plain, profile), orientation: 6))
        source.xmp = Array("<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>".utf8)
        source.comments = [Array("made by a test".utf8)]
        let result = try Codec.encode(testImage(width: 9, height: 5, channels: 3, seed: 2), as: output)

        let defaulted = try source.kept(.profile).written(into: result)
        #expect(Metadata.read(defaulted) == Metadata(icc: profile))
        #expect(try Codec.decode(defaulted).image == Codec.decode(result).image)

        let all = try source.kept(.all, upright: true).written(into: result)
        let read = Metadata.read(all)
        #expect(read.icc == profile && read.xmp == source.xmp && read.comments == source.comments)
        #expect(read.exif.flatMap { Orientation.of(exifAlone($0)) } == .upright, "turned pixels say upright")
        #expect(read.exif?.count == source.exif?.count)
        #expect(Orientation.of(try source.kept(.all).written(into: result)) == .rotate90, "not turned: the orientation stays")
        #expect(try Codec.decode(all).image == Codec.decode(result).image)
        var noExtras = source
        noExtras.exif = nil; noExtras.xmp = nil; noExtras.comments = []
        #expect(try noExtras.kept(.all, inSRGB: true).written(into: result) == result, "converted to sRGB: the profile goes")
        var cmyk = fakeProfile(size: 300, seed: 1)
        cmyk.replaceSubrange(16..<20, with: Array("CMYK".utf8))
        #expect(Metadata(icc: cmyk).kept(.profile).icc == nil, "a CMYK profile does not describe RGB")
    }

    /// A PNG result with a profile drops the sRGB chunk the encoder wrote
    /// (the two contradict each other), and every chunk's CRC is right.
    @Test func aPNGResultHasAnICCPChunkInPlaceOfSRGB() throws {
        let result = try Codec.encode(testImage(width: 9, height: 5, channels: 4, seed: 2), as: .png)
        let with = try Metadata(icc: profile).written(into: result)
        var types: [String] = []
        var i = 8
        while i + 12 <= with.count {
            let length = with[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) }
            types.append(String(decoding: with[(i + 4)..<(i + 8)], as: UTF8.self))
            #expect(crc32(Array(with[(i + 4)..<(i + 8 + length)])) == with[(i + 8 + length)..<(i + 12 + length)].reduce(0) { $0 << 8 | UInt32($1) })
            i += 12 + length
        }
        #expect(types.first == "IHDR" && types.dropFirst().first == "iCCP" && !types.contains("sRGB") && types.last == "IEND", "\(types)")
        #expect(Metadata.read(with).icc == profile)
    }

    @Test func damagedMetadataIsIgnored() throws {
        let plain = try Codec.encode(testImage(width: 9, height: 5, channels: 3, seed: 1), as: .png)
        // An iCCP chunk whose zlib stream is garbage: no profile, no trap.
        let body = Array("iCCP".utf8) + Array("x".utf8) + [0, 0, 1, 2, 3, 4]
        let chunk = [0, 0, 0, UInt8(body.count - 4)] + body + withUnsafeBytes(of: crc32(body).bigEndian) { Array($0) }
        let damaged = Array(plain[..<33]) + chunk + plain[33...]
        #expect(Metadata.read(damaged).icc == nil)
        for n in [0, 3, 10, 40] { _ = Metadata.read(Array(damaged.prefix(n))) }
    }
}

/// An EXIF block alone, wrapped as a JPEG's APP1 so that ``Orientation/of(_:)`` reads it.
private func exifAlone(_ tiff: [UInt8]) -> [UInt8] {
    let payload = Array("Exif\0\0".utf8) + tiff
    return [0xFF, 0xD8, 0xFF, 0xE1, UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)] + payload + [0xFF, 0xD9]
}
