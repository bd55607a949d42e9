import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Server
import TestSupport
import Testing

@Suite("Downloads: ETag, 304, ranges")
struct DownloadTests {
    @Test func rangesAsRFC9110Reads() {
        #expect(ByteRange("bytes=0-9", length: 100) == .part(0..<10))
        #expect(ByteRange("bytes=90-200", length: 100) == .part(90..<100), "a last byte past the end is cut")
        #expect(ByteRange("bytes=95-", length: 100) == .part(95..<100))
        #expect(ByteRange("bytes=-10", length: 100) == .part(90..<100))
        #expect(ByteRange("bytes=-500", length: 100) == .part(0..<100))
        #expect(ByteRange("bytes=100-", length: 100) == .unsatisfiable)
        #expect(ByteRange("bytes=-0", length: 100) == .unsatisfiable)
        for whole in ["bytes=5-1", "bytes=0-1,5-6", "items=0-1", "bytes=a-b", "bytes=-", "bytes=1", "", "bytes=99999999999999999999-"] {
            #expect(ByteRange(whole, length: 100) == .whole, "\(whole)")
        }
    }

    @Test func tagsFollowTheBytes() {
        let a = [UInt8](repeating: 7, count: 1001)
        var b = a
        b[1000] = 8
        #expect(EntityTag.of(a) == EntityTag.of(a))
        #expect(EntityTag.of(a) != EntityTag.of(b), "a change in the tail changes the tag")
        #expect(EntityTag.of([]) != EntityTag.of([0]))
        let tag = EntityTag.of(a)
        #expect(tag.count == 34 && tag.hasPrefix("\"") && tag.hasSuffix("\""))
        #expect(EntityTag.matches("\"x\", W/\(tag)", tag) && EntityTag.matches("*", tag) && !EntityTag.matches("\"x\"", tag))
    }

    @Test(.enabled(if: sharedAMQPURL != nil, "AMQP_URL is not set (make test starts RabbitMQ)"))
    func sourceIsCacheableAndRanged() async throws {
        let (app, dir, _) = try makeApp(db: 57)
        defer { dir.remove() }
        let uploads = dir.url.appendingPathComponent("uploads")
        let image = try png(120, 90, seed: 5)
        let (body, type) = multipart(ops: "invert", files: [("a.png", image)])
        try await app.test(.router) { client in
            let id = try await client.execute(uri: "/api/jobs", method: .post, headers: [.contentType: type], body: body) { r in
                ((json(r.body)["jobs"] as? [[String: String]])?.first?["id"])!
            }
            let uri = "/api/jobs/\(id)/source"
            let tag = try await client.execute(uri: uri, method: .get) { r in
                #expect(r.status == .ok && Array(r.body.readableBytesView) == image)
                #expect(r.headers[.cacheControl] == "public, max-age=31536000, immutable")
                #expect(r.headers[.acceptRanges] == "bytes")
                #expect(r.headers[.contentDisposition] == "inline; filename=\"imgproc-\(id)-source.png\"")
                return r.headers[.eTag] ?? ""
            }
            #expect(tag == EntityTag.of(image))
            try await client.execute(uri: uri, method: .get, headers: [.ifNoneMatch: "\"old\", \(tag)"]) { r in
                #expect(r.status == .notModified && r.body.readableBytes == 0 && r.headers[.eTag] == tag)
            }
            try await client.execute(uri: uri, method: .get, headers: [.ifNoneMatch: "\"old\""]) { r in
                #expect(r.status == .ok && r.body.readableBytes == image.count)
            }
            try await client.execute(uri: uri, method: .head) { r in
                #expect(r.status == .ok && r.body.readableBytes == 0)
                #expect(r.headers[.contentLength] == "\(image.count)" && r.headers[.eTag] == tag)
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=10-19"]) { r in
                #expect(r.status == .partialContent && Array(r.body.readableBytesView) == Array(image[10..<20]))
                #expect(r.headers[.contentRange] == "bytes 10-19/\(image.count)")
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=-4"]) { r in
                #expect(r.status == .partialContent && Array(r.body.readableBytesView) == Array(image.suffix(4)))
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=0-3", .ifRange: "\"other\""]) { r in
                #expect(r.status == .ok && r.body.readableBytes == image.count, "a changed image is sent whole")
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=0-3", .ifRange: tag]) { r in
                #expect(r.status == .partialContent && r.body.readableBytes == 4)
            }
            try await client.execute(uri: uri, method: .get, headers: [.range: "bytes=\(image.count)-"]) { r in
                #expect(r.status == .rangeNotSatisfiable && json(r.body)["error"] as? String == "bad_range")
                #expect(r.headers[.contentRange] == "bytes */\(image.count)")
            }
            // Without the server's copy (another server's job, or before the copy is written),
            // the original comes from Redis while the job has not ended.
            try FileManager.default.removeItem(at: uploads.appendingPathComponent("\(id).png"))
            try await client.execute(uri: uri, method: .get) { r in
                #expect(r.status == .ok && Array(r.body.readableBytesView) == image && r.headers[.eTag] == tag)
            }
        }
    }

    @Test(.enabled(if: sharedAMQPURL != nil, "AMQP_URL is not set (make test starts RabbitMQ)"))
    func withATokenOnlyPrivateCachesKeepImages() async throws {
        let (app, dir, _) = try makeApp(token: "secret", db: 57)
        defer { dir.remove() }
        let (body, type) = multipart(ops: "invert", files: [("a.png", try png(seed: 6))])
        try await app.test(.router) { client in
            let auth: HTTPFields = [.authorization: "Bearer secret"]
            var headers = auth
            headers[.contentType] = type
            let id = try await client.execute(uri: "/api/jobs", method: .post, headers: headers, body: body) { r in
                ((json(r.body)["jobs"] as? [[String: String]])?.first?["id"])!
            }
            try await client.execute(uri: "/api/jobs/\(id)/source", method: .get, headers: auth) { r in
                #expect(r.status == .ok && r.headers[.cacheControl] == "private, max-age=31536000, immutable")
            }
        }
    }
}
