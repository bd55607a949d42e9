import Backoff
import Foundation
import JobEvents
import Testing

@Suite("AMQP URLs")
struct AMQPURLTests {
    @Test func partsAndDefaults() throws {
        let url = try AMQPURL("amqp://alice:s3cret@rabbit.example:5673/imgproc")
        #expect(url == AMQPURL(host: "rabbit.example", port: 5673, user: "alice", password: "s3cret", vhost: "imgproc"))
        #expect(try AMQPURL("amqp://localhost") == AMQPURL(host: "localhost"), "guest/guest, port 5672, vhost /")
        #expect(try AMQPURL("amqp://u@h/").password == "", "a user without a password")
    }

    @Test func escapedCredentialsAndVhostRoundTrip() throws {
        let url = try AMQPURL("amqp://us%40er:p%3Aa%2Fss@h:1/v%2Fhost")
        #expect(url.user == "us@er" && url.password == "p:a/ss" && url.vhost == "v/host")
        #expect(try AMQPURL(url.full) == url, "the full URL parses back the same")
        #expect(!url.description.contains("p:a/ss") && url.description.contains("***"), "logs never show the password")
    }

    @Test func badURLsSayWhy() {
        for (text, why) in [("http://h", "amqp://"), ("amqp://h:0", "port"), ("amqp://h:99999", "port"), ("amqp://h:x", "port"),
                            ("amqp://", "no host"), ("amqp://u:p@/v", "no host")] {
            let error = #expect(throws: EventError.self) { try AMQPURL(text) }
            #expect(error?.code == .badURL && error?.message.contains(why) == true, "\(text): \(error?.message ?? "")")
        }
    }
}

@Suite("Job events")
struct JobEventTests {
    @Test func jsonRoundTripsAndNamesItsKind() throws {
        let done = JobEvent(id: "0123456789abcdef0123456789abcdef", status: "failed", error: "cannot decode \"x\"",
                            at: Date(timeIntervalSince1970: 1_800_000_000.123))
        #expect(String(decoding: done.json, as: UTF8.self)
                == #"{"at":1800000000123,"error":"cannot decode \"x\"","id":"0123456789abcdef0123456789abcdef","status":"failed"}"#)
        #expect(try JobEvent(json: done.json) == done)
        #expect(done.kind == .done && JobEvent(id: "a", status: "queued").kind == .created)
    }

    @Test func foreignMessagesAreRefused() {
        for text in ["", "{}", #"{"id":1,"status":"done","at":0}"#, "[", #"{"id":"a","status":"done"}"#] {
            #expect(throws: (any Error).self, "\(text)") { try JobEvent(json: Array(text.utf8)) }
        }
    }
}

@Suite("Backoff")
struct BackoffTests {
    @Test func doublesUpToTheCeilingAndResets() {
        var backoff = Backoff(first: 0.1, ceiling: 0.5)
        #expect((0..<5).map { _ in backoff.next() } == [0.1, 0.2, 0.4, 0.5, 0.5])
        backoff.reset()
        #expect(backoff.next() == 0.1 && backoff.delay == 0.2)
        var low = Backoff(first: 3, ceiling: 1)
        #expect(low.next() == 1, "never above the ceiling, even the first")
    }
}
