import CLCMS2

/// Pixels converted to sRGB through an ICC profile, with lcms2; all of
/// lcms2 is touched here. Used while decoding, row by row, so a tiled or
/// distributed run converts the same rows to the same bytes as a whole one.
final class ColourTransform {
    /// What the source's pixels are.
    enum Input {
        /// 8-bit RGB (or RGBA, alpha copied) under the file's RGB profile.
        case rgb(alpha: Bool)
        /// 8-bit CMYK as libjpeg hands it out; `inverted` for Adobe's files (255 is no ink).
        case cmyk(inverted: Bool)
    }

    private let transform: cmsHTRANSFORM?
    private let input: Input

    /// A transform to sRGB; nil when `profile` cannot be read or does not
    /// describe `input` (then RGB is left as it is, and CMYK converted by
    /// the plain formula below).
    init?(profile: [UInt8]?, input: Input) {
        self.input = input
        guard let profile, let source = profile.withUnsafeBytes({ cmsOpenProfileFromMem($0.baseAddress, cmsUInt32Number($0.count)) }) else {
            if case .rgb = input { return nil }   // nothing to convert by
            transform = nil
            return
        }
        defer { cmsCloseProfile(source) }
        let srgb = cmsCreate_sRGBProfile()
        defer { cmsCloseProfile(srgb) }
        var made: cmsHTRANSFORM?
        switch input {
        case let .rgb(alpha):
            guard cmsGetColorSpace(source) == cmsSigRgbData else { return nil }
            let format = alpha ? CLCMS2_RGBA_8 : CLCMS2_RGB_8
            made = cmsCreateTransform(source, format, srgb, format, CLCMS2_INTENT_PERCEPTUAL, CLCMS2_FLAGS | (alpha ? CLCMS2_COPY_ALPHA : 0))
            if made == nil { return nil }
        case let .cmyk(inverted):
            if cmsGetColorSpace(source) == cmsSigCmykData {
                made = cmsCreateTransform(source, inverted ? CLCMS2_CMYK_8_REV : CLCMS2_CMYK_8, srgb, CLCMS2_RGB_8,
                                          CLCMS2_INTENT_PERCEPTUAL, CLCMS2_FLAGS)
            }
        }
        transform = made
    }

    deinit { if let transform { cmsDeleteTransform(transform) } }

    /// Converts `count` pixels from `source` to sRGB in `target` (RGB in
    /// place: the two may be the same buffer).
    func apply(_ source: UnsafePointer<UInt8>, to target: UnsafeMutablePointer<UInt8>, count: Int) {
        if let transform {
            cmsDoTransform(transform, source, target, cmsUInt32Number(count))
            return
        }
        // CMYK without a usable profile: as Pillow converts it, R = (255 - K) - C(255 - K)/255.
        guard case let .cmyk(inverted) = input else { return }
        func ink(_ v: UInt8) -> Int { inverted ? 255 - Int(v) : Int(v) }
        for i in 0..<count {
            let paper = 255 - ink(source[4 * i + 3])
            for c in 0..<3 {
                let t = ink(source[4 * i + c]) * paper + 128
                target[3 * i + c] = UInt8(paper - (((t >> 8) + t) >> 8))
            }
        }
    }
}
