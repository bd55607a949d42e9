import Failure

/// Why an image could not be read or written.
public typealias CodecError = CodedError<CodecErrorCode>

public enum CodecErrorCode: String, Sendable {
        /// No bytes at all.
        case empty
        /// Neither PNG nor JPEG by its magic bytes.
        case unknownFormat = "unknown_format"
        /// A known format in a variant that is not handled (e.g. 12-bit or CMYK JPEG, GIF).
        case unsupported
        /// Damaged or truncated data.
        case corrupt
        /// Dimensions over the pixel limit, found from the header.
        case tooLarge = "too_large"
        /// The encoder failed.
        case encodeFailed = "encode_failed"
}

/// Limits checked from the header, before any pixel buffer is allocated.
public struct DecodeLimits: Sendable {
    /// Largest `width * height` accepted.
    public var maxPixels: Int

    public init(maxPixels: Int = 100_000_000) {
        self.maxPixels = maxPixels
    }

    public static let `default` = DecodeLimits()

    public func check(_ info: ImageInfo) throws(CodecError) {
        guard info.width > 0, info.height > 0 else {
            throw CodecError(.corrupt, "\(info.format.name) header gives an empty size \(info.width)x\(info.height)")
        }
        if info.width * info.height > maxPixels {
            throw CodecError(.tooLarge, "image is \(info.width)x\(info.height) (\(info.width * info.height / 1_000_000) megapixels), over the limit of \(maxPixels / 1_000_000) megapixels")
        }
    }
}
