import Foundation

/// A TCP connection to 127.0.0.1 for tests that send HTTP by hand (a body
/// cut off, or sent in two halves around a signal).
public final class RawSocket {
    private var fd: Int32

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let connected = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else {
            Glibc.close(fd)
            throw TestServerError("cannot connect to port \(port)")
        }
    }

    deinit { close() }

    /// Closes the connection (the other end sees the request cut off).
    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    public func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestServerError("send failed: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    /// What the other end sends until `marker` has arrived, it closes, or `seconds` pass.
    public func receive(until marker: [UInt8], seconds: Double) -> [UInt8] {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var byte: UInt8 = 0
        // A byte at a time: nothing after the marker is taken.
        while !received.suffix(marker.count).elementsEqual(marker), recv(fd, &byte, 1, 0) == 1 { received.append(byte) }
        return received
    }

    /// Everything the other end sends until it closes, or until `seconds` pass.
    public func receiveAll(seconds: Double) -> [UInt8] {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return received }
            received += buffer[..<n]
        }
    }
}
