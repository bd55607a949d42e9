import Foundation

/// What users can write in pipeline text: each operation with its
/// parameters, defaults and help. The CLI's help and the web page's
/// pipeline builder are generated from this list.
public struct OperationInfo: Sendable {
    public struct Parameter: Sendable {
        public let name: String
        /// Text used when the argument is left out; nil when it is required.
        public let defaultValue: String?
        public let help: String
    }

    public let name: String
    public let summary: String
    public let parameters: [Parameter]
    let make: @Sendable ([String]) throws(ArgumentError) -> PipelineStep

    /// Usage text, e.g. `blur:SIGMA`.
    public var usage: String { ([name] + parameters.map(\.name)).joined(separator: ":") }
}

/// A bad argument: which one, and what it must be.
struct ArgumentError: Error {
    let message: String
}

extension OperationInfo {
    /// Every operation, in the order users see them.
    public static let all: [OperationInfo] = [
        OperationInfo(name: "grayscale", summary: "Luma from RGB (OpenCV weights); alpha kept.", parameters: []) { _ in
            .local(Grayscale())
        },
        OperationInfo(name: "invert", summary: "Negative of the colour channels; alpha kept.", parameters: []) { _ in
            .local(Invert())
        },
        OperationInfo(name: "brightness", summary: "Adds DELTA to every colour sample.", parameters: [
            .init(name: "DELTA", defaultValue: "20", help: "integer -255...255"),
        ]) { a throws(ArgumentError) in
            .local(Brightness(delta: try integer(a[0], "DELTA", -255...255)))
        },
        OperationInfo(name: "contrast", summary: "Scales colour samples about mid-grey by FACTOR.", parameters: [
            .init(name: "FACTOR", defaultValue: "1.2", help: "number 0...10; 1 leaves the image as it is"),
        ]) { a throws(ArgumentError) in
            .local(Contrast(factor: try number(a[0], "FACTOR", 0...10)))
        },
        OperationInfo(name: "gamma", summary: "Gamma correction v' = 255 (v/255)^(1/G); G > 1 brightens.", parameters: [
            .init(name: "G", defaultValue: "2.2", help: "number 0.05...20"),
        ]) { a throws(ArgumentError) in
            .local(Gamma(gamma: try number(a[0], "G", 0.05...20)))
        },
        OperationInfo(name: "blur", summary: "Gaussian blur (as cv2.GaussianBlur).", parameters: [
            .init(name: "SIGMA", defaultValue: "1", help: "standard deviation in pixels, 0.1...100"),
        ]) { a throws(ArgumentError) in
            .local(GaussianBlur(sigma: try number(a[0], "SIGMA", 0.1...100)))
        },
        OperationInfo(name: "boxblur", summary: "Mean of the (2R+1)² window (as cv2.blur).", parameters: [
            .init(name: "R", defaultValue: "1", help: "radius in pixels, 1...128"),
        ]) { a throws(ArgumentError) in
            .local(BoxBlur(radius: try integer(a[0], "R", 1...128)))
        },
        OperationInfo(name: "median", summary: "Median of the (2R+1)² window (as cv2.medianBlur; edges replicated).", parameters: [
            .init(name: "R", defaultValue: "1", help: "radius in pixels, 1...64"),
        ]) { a throws(ArgumentError) in
            .local(Median(radius: try integer(a[0], "R", 1...64)))
        },
        OperationInfo(name: "sharpen", summary: "Unsharp mask: v + AMOUNT (v - blur(v)).", parameters: [
            .init(name: "SIGMA", defaultValue: "1", help: "blur standard deviation, 0.1...100"),
            .init(name: "AMOUNT", defaultValue: "1", help: "strength, 0...10"),
        ]) { a throws(ArgumentError) in
            .local(Sharpen(sigma: try number(a[0], "SIGMA", 0.1...100), amount: try number(a[1], "AMOUNT", 0...10)))
        },
        OperationInfo(name: "sobel", summary: "Gradient magnitude of 3x3 Sobel derivatives, per channel.", parameters: []) { _ in
            .local(Sobel())
        },
        OperationInfo(name: "canny", summary: "Canny edges (as cv2.Canny, L1 gradient); 1-channel output.", parameters: [
            .init(name: "LOW", defaultValue: "100", help: "hysteresis low threshold, 0...2040"),
            .init(name: "HIGH", defaultValue: "200", help: "hysteresis high threshold, 0...2040"),
        ]) { a throws(ArgumentError) in
            .canny(CannyClassify(low: try number(a[0], "LOW", 0...2040), high: try number(a[1], "HIGH", 0...2040)))
        },
        OperationInfo(name: "clahe", summary: "Contrast-limited adaptive histogram equalisation of lightness; colour kept.", parameters: [
            .init(name: "CLIP", defaultValue: "2", help: "clip limit, 0...1000 (0: no limit)"),
            .init(name: "GRID", defaultValue: "8", help: "cells per side, 1...64"),
        ]) { a throws(ArgumentError) in
            .clahe(ClaheSettings(clip: try number(a[0], "CLIP", 0...1000), grid: try integer(a[1], "GRID", 1...64)))
        },
        OperationInfo(name: "resize", summary: "Bilinear resize (as cv2.resize, INTER_LINEAR).", parameters: [
            .init(name: "SIZE", defaultValue: nil, help: "WxH in pixels (1...65535 each), or a scale factor 0.001...100"),
        ]) { a throws(ArgumentError) in
            .local(Resize(try resizeTarget(a[0])))
        },
        OperationInfo(name: "rotate", summary: "Rotates clockwise.", parameters: [
            .init(name: "DEGREES", defaultValue: "90", help: "90, 180 or 270"),
        ]) { a throws(ArgumentError) in
            guard let d = Int(a[0]), [90, 180, 270].contains(d) else {
                throw ArgumentError(message: "DEGREES must be 90, 180 or 270, not '\(a[0])'")
            }
            return .local(Rotate(degrees: d))
        },
        OperationInfo(name: "flip", summary: "Mirrors the image.", parameters: [
            .init(name: "AXIS", defaultValue: "h", help: "h (left-right) or v (top-bottom)"),
        ]) { a throws(ArgumentError) in
            guard let axis = Flip.Axis(rawValue: a[0]) else { throw ArgumentError(message: "AXIS must be h or v") }
            return .local(Flip(axis: axis))
        },
        OperationInfo(name: "fit", summary: "Shrinks to fit inside a box, keeping the aspect (area filter; never enlarges).", parameters: [
            .init(name: "BOX", defaultValue: nil, help: "WxH in pixels (1...65535 each)"),
        ]) { a throws(ArgumentError) in
            let (w, h) = try box(a[0])
            return .local(Fit(width: w, height: h))
        },
        OperationInfo(name: "fill", summary: "Scales to cover a box, keeping the aspect (area filter), and crops the overflow.", parameters: [
            .init(name: "BOX", defaultValue: nil, help: "WxH in pixels (1...65535 each)"),
            .init(name: "GRAVITY", defaultValue: "centre", help: "centre, or smart: the window with the most detail"),
        ]) { a throws(ArgumentError) in
            let (w, h) = try box(a[0])
            guard let gravity = Fill.Gravity(rawValue: a[1] == "center" ? "centre" : a[1]) else {
                throw ArgumentError(message: "GRAVITY must be centre or smart, not '\(a[1])'")
            }
            return .local(Fill(width: w, height: h, gravity: gravity))
        },
        OperationInfo(name: "crop", summary: "Cuts out a rectangle (cut to the image where it runs past an edge).", parameters: [
            .init(name: "X", defaultValue: nil, help: "left edge, 0...65535"),
            .init(name: "Y", defaultValue: nil, help: "top edge, 0...65535"),
            .init(name: "W", defaultValue: nil, help: "width, 1...65535"),
            .init(name: "H", defaultValue: nil, help: "height, 1...65535"),
        ]) { a throws(ArgumentError) in
            .local(Crop(x: try integer(a[0], "X", 0...65535), y: try integer(a[1], "Y", 0...65535),
                        width: try integer(a[2], "W", 1...65535), height: try integer(a[3], "H", 1...65535)))
        },
    ]

    public static func named(_ name: String) -> OperationInfo? { all.first { $0.name == name } }
}

private func number(_ text: String, _ name: String, _ range: ClosedRange<Double>) throws(ArgumentError) -> Double {
    guard let v = Double(text), v.isFinite, range.contains(v) else {
        throw ArgumentError(message: "\(name) must be a number in \(formatNumber(range.lowerBound))...\(formatNumber(range.upperBound)), not '\(text)'")
    }
    return v
}

private func integer(_ text: String, _ name: String, _ range: ClosedRange<Int>) throws(ArgumentError) -> Int {
    guard let v = Int(text), range.contains(v) else {
        throw ArgumentError(message: "\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), not '\(text)'")
    }
    return v
}

private func box(_ text: String) throws(ArgumentError) -> (Int, Int) {
    let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
    guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]), (1...65535).contains(w), (1...65535).contains(h) else {
        throw ArgumentError(message: "BOX must be WxH with W and H in 1...65535, not '\(text)'")
    }
    return (w, h)
}

private func resizeTarget(_ text: String) throws(ArgumentError) -> Resize.Target {
    let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
    if parts.count == 2 {
        guard let w = Int(parts[0]), let h = Int(parts[1]), (1...65535).contains(w), (1...65535).contains(h) else {
            throw ArgumentError(message: "SIZE must be WxH with W and H in 1...65535, not '\(text)'")
        }
        return .size(width: w, height: h)
    }
    guard let s = Double(text), s.isFinite, s >= 0.001, s <= 100 else {
        throw ArgumentError(message: "SIZE must be WxH or a scale factor in 0.001...100, not '\(text)'")
    }
    return .scale(s)
}
