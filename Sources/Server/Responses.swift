import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Small builders for the server's responses.
enum Respond {
    static func json(bytes: [UInt8], status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func json(object: Any, status: HTTPResponse.Status = .ok) -> Response {
        json(bytes: Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()), status: status)
    }

    static func text(_ text: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.xContentTypeOptions] = "nosniff"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// An HTML page with its Content-Security-Policy: scripts only from this
    /// server or with the page's nonce, no inline styles, images from this
    /// server or the page's own blobs, no framing.
    static func page(_ page: (html: String, nonce: String)) -> Response {
        var response = text(page.html, contentType: "text/html; charset=utf-8")
        response.headers[.contentSecurityPolicy] = "default-src 'none'; script-src 'self' 'nonce-\(page.nonce)'; style-src 'self'; "
            + "img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        return response
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
}
