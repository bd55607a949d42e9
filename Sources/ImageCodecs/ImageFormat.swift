/// The image formats imgproc reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable {
    case png
    case jpeg
    case webp
    case avif

    public var name: String {
        switch self {
        case .png: "PNG"
        case .jpeg: "JPEG"
        case .webp: "WebP"
        case .avif: "AVIF"
        }
    }

    public var fileExtension: String { self == .jpeg ? "jpg" : rawValue }
    public var mimeType: String { "image/" + rawValue }

    /// Longest side a WebP image can have.
    public static let webpMaxSide = 16383

    /// The formats read and written, for messages.
    public static let names = "PNG, JPEG, WebP or AVIF"

    /// The format named by a file name's extension (`.png`, `.jpg`, `.jpeg`, `.webp`), for output names only.
    public init?(fileExtension ext: String) {
        switch ext.lowercased() {
        case "png": self = .png
        case "jpg", "jpeg": self = .jpeg
        case "webp": self = .webp
        case "avif": self = .avif
        default: return nil
        }
    }

    /// Nanoseconds per pixel (3 channels) to read and to write a file of
    /// this format on one core, for ``Cost``: PNG output is deflated with row
    /// filters (`imgproc process --png-level` on one core, 24 MP: level 1 about
    /// 40 ns a pixel, level 9 about 100 on a noisy photo), WebP and AVIF output
    /// search their lossy modes (AVIF at speed 8).
    public var decodeNanoseconds: Double {
        switch self {
        case .png: 10
        case .jpeg: 6
        case .webp: 12
        case .avif: 40
        }
    }

    public var encodeNanoseconds: Double {
        switch self {
        case .png: 120
        case .jpeg: 2
        case .webp: 150
        case .avif: 200
        }
    }

    /// The format given by the magic bytes at the start of `bytes`.
    /// - Throws: ``CodecError`` `.empty`, `.unsupported` for other known
    ///   image formats, `.unknownFormat` otherwise.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) throws(CodecError) -> ImageFormat {
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + magic.count && zip(magic, bytes[offset...]).allSatisfy { $0 == $1 }
        }
        if bytes.isEmpty { throw CodecError(.empty, "the file is empty") }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts(Array("RIFF".utf8)), starts(Array("WEBP".utf8), at: 8) { return .webp }
        // ISOBMFF: an ftyp box whose brands (major or compatible) name AVIF.
        if starts(Array("ftyp".utf8), at: 4), bytes.count >= 16 {
            let size = min(bytes.count, max(16, Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])))
            let brands = stride(from: 8, to: size - 3, by: 4).map { String(decoding: bytes[$0..<($0 + 4)], as: UTF8.self) }
            if brands.contains("avif") || brands.contains("avis") { return .avif }
        }
        let others: [(String, [UInt8], Int)] = [
            ("GIF", Array("GIF8".utf8), 0), ("BMP", Array("BM".utf8), 0),
            ("TIFF", [0x49, 0x49, 0x2A, 0x00], 0), ("TIFF", [0x4D, 0x4D, 0x00, 0x2A], 0),
            ("JPEG 2000", [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50], 0), ("HEIC/HEIF", Array("ftyp".utf8), 4),
        ]
        for (name, magic, offset) in others where starts(magic, at: offset) {
            throw CodecError(.unsupported, "\(name) images are not supported; send \(names)")
        }
        throw CodecError(.unknownFormat, "not a \(names) image (unrecognised first bytes)")
    }
}

/// What a header says about an image, read without decoding pixels.
public struct ImageInfo: Sendable, Equatable {
    public let format: ImageFormat
    public let width: Int
    public let height: Int
    /// Channels the decoded image will have (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).
    public let channels: Int

    /// - Parameters:
    ///   - format: the file's format.
    ///   - width: pixels across, as decoding gives them.
    ///   - height: pixels down.
    ///   - channels: 1 (gray), 2 (gray and alpha), 3 (RGB) or 4 (RGBA).
    public init(format: ImageFormat, width: Int, height: Int, channels: Int) {
        self.format = format
        self.width = width
        self.height = height
        self.channels = channels
    }
}
