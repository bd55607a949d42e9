import Cluster
import Failure
import ImageCore

/// Little-endian integers and byte strings: what ranks send each other over MPI.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func int(_ v: Int) {
        let u = UInt64(bitPattern: Int64(v))
        for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: u >> (8 * k))) }
    }

    mutating func data(_ d: [UInt8]) {
        int(d.count)
        bytes += d
    }

    mutating func text(_ s: String) { data(Array(s.utf8)) }

    /// A region: its rectangle, channel count and pixels.
    mutating func region(_ r: Region) {
        int(r.x); int(r.y); int(r.image.width); int(r.image.height); int(r.image.channels)
        bytes += r.image.pixels
    }
}

struct ByteReader {
    let bytes: [UInt8]
    private var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { at >= bytes.count }

    mutating func int() throws(MPIError) -> Int {
        guard at + 8 <= bytes.count else { throw .malformedData }
        let v = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
        at += 8
        return Int(Int64(bitPattern: v))
    }

    mutating func data() throws(MPIError) -> [UInt8] {
        let n = try int()
        guard n >= 0, at + n <= bytes.count else { throw .malformedData }
        defer { at += n }
        return Array(bytes[at..<(at + n)])
    }

    mutating func text() throws(MPIError) -> String { String(decoding: try data(), as: UTF8.self) }

    mutating func region() throws(MPIError) -> Region {
        let x = try int(), y = try int(), w = try int(), h = try int(), c = try int()
        let n = w * h * c
        guard w >= 0, h >= 0, (1...4).contains(c), at + n <= bytes.count else { throw .malformedData }
        defer { at += n }
        return Region(image: Image(width: w, height: h, channels: c, pixels: Array(bytes[at..<(at + n)])), x: x, y: y)
    }
}

extension CodedError where Code == MPIErrorCode {
    static var malformedData: MPIError { MPIError(.malformed, "malformed data from another rank") }
}

extension Array where Element == Region {
    /// The regions packed for sending.
    var packed: [UInt8] {
        var w = ByteWriter(capacity: reduce(0) { $0 + 40 + $1.image.pixels.count })
        for r in self { w.region(r) }
        return w.bytes
    }

    init(unpacking bytes: [UInt8]) throws(MPIError) {
        var reader = ByteReader(bytes)
        var out: [Region] = []
        while !reader.isAtEnd { out.append(try reader.region()) }
        self = out
    }
}
