import CMPI
import Failure
import Foundation

/// The MPI world of this process: rank, size and the collectives imgproc
/// uses. All MPI handles stay in this file.
///
/// Blocking collectives would spin a CPU while ranks wait (Open MPI polls);
/// these post the non-blocking form and test it with short sleeps, so idle
/// ranks cost nothing.
///
/// One instance per process; MPI calls are made from one thread only.
public final class Cluster {
    public let rank: Int
    public let size: Int
    /// Longest sleep between completion tests of a collective. Sleeps start
    /// short (collectives within a job complete within microseconds of the
    /// last rank arriving) and double up to this while a rank waits longer
    /// (idle ranks waiting for the next job).
    public var pollInterval: Double = 0.002

    /// Payload bytes this process has handed MPI for other ranks (a
    /// broadcast counts once per receiver): what the heartbeat reports, for
    /// the sizing figures. Read from any thread.
    public static var bytesSent: Int { sentLock.withLock { sent } }
    private static let sentLock = NSLock()
    nonisolated(unsafe) private static var sent = 0
    private static func count(_ bytes: Int) { sentLock.withLock { sent += bytes } }

    /// Initialises MPI (`MPI_Init_thread`, funnelled) and reads rank and size.
    public init() throws(MPIError) {
        var provided: Int32 = 0
        try Self.check("MPI_Init_thread", MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided))
        // Errors come back as codes (and become Swift errors) rather than aborting here;
        // a rank that dies still takes the job down, as Open MPI does with any lost peer.
        try Self.check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(cmpi_comm_world(), cmpi_errors_return()))
        var r: Int32 = 0, s: Int32 = 0
        try Self.check("MPI_Comm_rank", MPI_Comm_rank(cmpi_comm_world(), &r))
        try Self.check("MPI_Comm_size", MPI_Comm_size(cmpi_comm_world(), &s))
        rank = Int(r)
        size = Int(s)
    }

    /// Ends MPI; call once, after the last collective.
    public func finalize() {
        MPI_Finalize()
    }

    /// Aborts every rank of the world with `code`.
    public func abort(_ code: Int32) -> Never {
        MPI_Abort(cmpi_comm_world(), code)
        exit(code)
    }

    static func check(_ call: String, _ code: Int32) throws(MPIError) {
        guard code != cmpi_success() else { return }
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw MPIError(.callFailed, "\(call) failed: \(text) (MPI error \(code))", cause: MPIReturnCode(call: call, value: code))
    }

    /// Waits for a posted non-blocking operation, sleeping between tests.
    private func wait(_ call: String, _ request: inout MPI_Request?) throws(MPIError) {
        var done: Int32 = 0
        var sleep = 0.00002
        while true {
            try Self.check(call, MPI_Test(&request, &done, cmpi_status_ignore()))
            if done != 0 { return }
            Thread.sleep(forTimeInterval: sleep)
            sleep = min(sleep * 2, pollInterval)
        }
    }

    /// `bytes` of `root` on every rank, received into fresh memory (16-byte
    /// aligned) that the caller then owns: a large original is held once
    /// rather than received and then copied to where it is read from.
    /// - Parameters:
    ///   - bytes: what `root` sends (other ranks' are ignored).
    ///   - root: the sending rank.
    /// - Returns: `root`'s bytes, on every rank; the caller deallocates them.
    public func broadcastBuffer(_ bytes: [UInt8], root: Int = 0) throws -> UnsafeMutableRawBufferPointer {
        let length = try broadcastLength(bytes.count, root: root)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(length, 1), alignment: 16)
        if rank == root { bytes.withUnsafeBytes { buffer.copyMemory(from: $0) } }
        do { try broadcastBytes(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length]), root: root) } catch {
            buffer.deallocate()
            throw error
        }
        return UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
    }

    /// `bytes` of `root` on every rank (length first, then the bytes).
    /// - Parameters:
    ///   - bytes: what `root` sends (other ranks' are ignored).
    ///   - root: the sending rank.
    /// - Returns: `root`'s bytes, on every rank.
    public func broadcast(_ bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        let length = try broadcastLength(bytes.count, root: root)
        var data = rank == root ? bytes : [UInt8](repeating: 0, count: length)
        try data.withUnsafeMutableBytes { try broadcastBytes($0, root: root) }
        return data
    }

    /// `root`'s `count` on every rank (the bytes it is about to send are counted).
    private func broadcastLength(_ count: Int, root: Int) throws -> Int {
        var length = UInt64(count)
        if rank == root { Self.count((8 + count) * (size - 1)) }
        var request: MPI_Request? = cmpi_request_null()
        try Self.check("MPI_Ibcast", MPI_Ibcast(&length, 1, cmpi_uint64(), Int32(root), cmpi_comm_world(), &request))
        try wait("MPI_Ibcast", &request)
        return Int(length)
    }

    /// `root`'s bytes into `buffer` on every rank.
    private func broadcastBytes(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        guard !buffer.isEmpty else { return }
        var request: MPI_Request? = cmpi_request_null()
        try Self.check("MPI_Ibcast", MPI_Ibcast(buffer.baseAddress, Int32(buffer.count), cmpi_byte(), Int32(root),
                                                cmpi_comm_world(), &request))
        try wait("MPI_Ibcast", &request)
    }

    /// Every rank's `bytes`, in rank order, at `root` (MPI_Gatherv); other ranks get [].
    /// - Parameters:
    ///   - bytes: this rank's part, of any length.
    ///   - root: the rank that receives them all.
    public func gatherv(_ bytes: [UInt8], root: Int = 0) throws -> [[UInt8]] {
        // Counts first (MPI_Gather), then the variable-length data.
        var count = Int32(bytes.count)
        if rank != root { Self.count(4 + bytes.count) }
        var counts = [Int32](repeating: 0, count: rank == root ? size : 1)
        var request: MPI_Request? = cmpi_request_null()
        try Self.check("MPI_Igather", MPI_Igather(&count, 1, cmpi_int(), &counts, 1, cmpi_int(), Int32(root),
                                                  cmpi_comm_world(), &request))
        try wait("MPI_Igather", &request)
        var displacements = [Int32](repeating: 0, count: counts.count)
        var total = 0
        if rank == root {
            for i in 0..<size {
                displacements[i] = Int32(total)
                total += Int(counts[i])
            }
            guard total <= Int(Int32.max) else {
                throw MPIError(.tooLarge, "MPI_Igatherv: \(total) bytes is more than one gather can carry")
            }
        }
        var received = [UInt8](repeating: 0, count: max(total, 1))
        var sendBuffer = bytes.isEmpty ? [UInt8](repeating: 0, count: 1) : bytes
        try sendBuffer.withUnsafeMutableBytes { (s: UnsafeMutableRawBufferPointer) in
            try received.withUnsafeMutableBytes { (r: UnsafeMutableRawBufferPointer) in
                try Self.check("MPI_Igatherv", MPI_Igatherv(s.baseAddress, count, cmpi_byte(), r.baseAddress, &counts,
                                                            &displacements, cmpi_byte(), Int32(root), cmpi_comm_world(),
                                                            &request))
                try wait("MPI_Igatherv", &request)
            }
        }
        guard rank == root else { return [] }
        return (0..<size).map { Array(received[Int(displacements[$0])..<(Int(displacements[$0]) + Int(counts[$0]))]) }
    }

    /// Personalised all-to-all (MPI_Alltoallv): `parts[r]` goes to rank r;
    /// returns what each rank sent to this one, in rank order.
    public func alltoallv(_ parts: [[UInt8]]) throws -> [[UInt8]] {
        precondition(parts.count == size, "one part per rank")
        var sendCounts = parts.map { Int32($0.count) }
        Self.count(parts.indices.reduce(0) { $0 + ($1 == rank ? 0 : 4 + parts[$1].count) })
        var recvCounts = [Int32](repeating: 0, count: size)
        var request: MPI_Request? = cmpi_request_null()
        try Self.check("MPI_Ialltoall", MPI_Ialltoall(&sendCounts, 1, cmpi_int(), &recvCounts, 1, cmpi_int(),
                                                      cmpi_comm_world(), &request))
        try wait("MPI_Ialltoall", &request)
        func displacements(_ counts: [Int32]) throws(MPIError) -> [Int32] {
            var out = [Int32](repeating: 0, count: counts.count), total = 0
            for i in counts.indices {
                out[i] = Int32(total)
                total += Int(counts[i])
            }
            guard total <= Int(Int32.max) else {
                throw MPIError(.tooLarge, "MPI_Ialltoallv: \(total) bytes is more than one exchange can carry")
            }
            return out
        }
        var sendDisplacements = try displacements(sendCounts)
        var recvDisplacements = try displacements(recvCounts)
        var send = parts.flatMap { $0 }
        if send.isEmpty { send = [0] }
        var received = [UInt8](repeating: 0, count: max(1, recvCounts.reduce(0) { $0 + Int($1) }))
        try send.withUnsafeMutableBytes { (s: UnsafeMutableRawBufferPointer) in
            try received.withUnsafeMutableBytes { (r: UnsafeMutableRawBufferPointer) in
                try Self.check("MPI_Ialltoallv", MPI_Ialltoallv(s.baseAddress, &sendCounts, &sendDisplacements, cmpi_byte(),
                                                                r.baseAddress, &recvCounts, &recvDisplacements, cmpi_byte(),
                                                                cmpi_comm_world(), &request))
                try wait("MPI_Ialltoallv", &request)
            }
        }
        return (0..<size).map {
            Array(received[Int(recvDisplacements[$0])..<(Int(recvDisplacements[$0]) + Int(recvCounts[$0]))])
        }
    }

    /// The element-wise sum of every rank's `values` (MPI_Allreduce), on every rank.
    public func allreduceSum(_ values: [UInt32]) throws -> [UInt32] {
        var input = values
        Self.count(4 * values.count)
        var output = [UInt32](repeating: 0, count: values.count)
        var request: MPI_Request? = cmpi_request_null()
        try input.withUnsafeMutableBytes { (i: UnsafeMutableRawBufferPointer) in
            try output.withUnsafeMutableBytes { (o: UnsafeMutableRawBufferPointer) in
                try Self.check("MPI_Iallreduce", MPI_Iallreduce(i.baseAddress, o.baseAddress, Int32(values.count),
                                                                cmpi_uint32(), cmpi_sum(), cmpi_comm_world(), &request))
                try wait("MPI_Iallreduce", &request)
            }
        }
        return output
    }

    /// The element-wise largest of every rank's `values`, on every rank.
    public func allreduceMax(_ values: [Double]) throws -> [Double] {
        var input = values
        Self.count(8 * values.count)
        var output = [Double](repeating: 0, count: values.count)
        var request: MPI_Request? = cmpi_request_null()
        try input.withUnsafeMutableBytes { (i: UnsafeMutableRawBufferPointer) in
            try output.withUnsafeMutableBytes { (o: UnsafeMutableRawBufferPointer) in
                try Self.check("MPI_Iallreduce", MPI_Iallreduce(i.baseAddress, o.baseAddress, Int32(values.count),
                                                                cmpi_double(), cmpi_max(), cmpi_comm_world(), &request))
                try wait("MPI_Iallreduce", &request)
            }
        }
        return output
    }

    /// Waits until every rank gets here.
    public func barrier() throws(MPIError) {
        var request: MPI_Request? = cmpi_request_null()
        try Self.check("MPI_Ibarrier", MPI_Ibarrier(cmpi_comm_world(), &request))
        try wait("MPI_Ibarrier", &request)
    }
}
