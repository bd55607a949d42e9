import Foundation
import Hummingbird
import JobEvents
import Logging
import TileStore

/// Builds the imgproc HTTP application: routes, pages, the result keeper
/// (job.done consumer and reconciliation) and the job.created publisher.
public func buildApplication(_ config: ServerConfiguration, logger: Logger) throws -> some ApplicationProtocol {
    try FileManager.default.createDirectory(at: config.uploads, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: config.processed, withIntermediateDirectories: true)
    let pool = StorePool(url: config.redis, threads: config.redisConnections)
    let metrics = Metrics()
    let keeper = ResultKeeper(directory: config.processed, metrics: metrics, logger: logger)
    let events = EventPublisher(url: config.amqp, logger: logger)
    let watch = JobWatch(url: config.redis, logger: logger)
    startKeeping(config, keeper: keeper, watch: watch, logger: logger)

    let router = Router()
    router.add(middleware: LogRequestsMiddleware(.debug))
    let api = router.group("api")
    if let token = config.authToken, !token.isEmpty { api.add(middleware: BearerAuth(token: token)) }
    JobsAPI(config: config, pool: pool, events: events, keeper: keeper, watch: watch, metrics: metrics, logger: logger)
        .register(on: api)

    router.get("/") { _, _ in Respond.text(Pages.home, contentType: "text/html; charset=utf-8") }
    router.get("jobs/:id") { _, context in
        Respond.text(Pages.job(try JobsAPI.id(context)), contentType: "text/html; charset=utf-8")
    }
    router.get("static/style.css") { _, _ in Respond.text(Pages.style, contentType: "text/css; charset=utf-8") }
    router.get("static/app.js") { _, _ in Respond.text(Pages.script, contentType: "text/javascript; charset=utf-8") }
    router.get("openapi.yaml") { _, _ in Respond.text(OpenAPI.yaml, contentType: "application/yaml; charset=utf-8") }
    router.get("metrics") { _, _ in
        let statuses = (try? await pool.run { store -> [String: Int] in
            var counts: [String: Int] = [:]
            for id in try store.recentJobs(limit: 1000) {
                if let status = try store.connection.command(["HGET", .text(JobKeys(id).job), "status"]).text {
                    counts[status, default: 0] += 1
                }
            }
            return counts
        }) ?? [:]
        return Respond.text(metrics.text(statuses: statuses), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
    router.get("healthz") { _, _ in
        let redis: String
        do { _ = try await pool.run { try $0.connection.command(["PING"]) }; redis = "ok" } catch { redis = "\(error)" }
        let amqpURL = config.amqp
        let rabbit: String = (try? await offloaded { () -> String in
            do { _ = try AMQPConnection(url: amqpURL, timeout: 2); return "ok" } catch { return "\(error)" }
        }) ?? "unknown"
        let healthy = redis == "ok" && rabbit == "ok"
        return Respond.json(object: ["redis": redis, "rabbitmq": rabbit], status: healthy ? .ok : .serviceUnavailable)
    }
    return Application(
        router: router,
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "imgproc"),
        logger: logger
    )
}

/// Stores results when job.done arrives, and reconciles every few seconds
/// (events lost, or sent while this server was down).
func startKeeping(_ config: ServerConfiguration, keeper: ResultKeeper, watch: JobWatch, logger: Logger) {
    let url = config.redis
    final class Box: @unchecked Sendable {
        // @unchecked: used by the consumer thread only.
        var store: TileStore?
    }
    let box = Box()
    _ = EventConsumer(url: config.amqp, queue: EventTopology.serverQueue, logger: logger) { event in
        if box.store == nil { box.store = try TileStore(url: url) }
        // Redis announces the end too; RabbitMQ's event wakes the job's streams should that be missed.
        watch.wake(event.id)
        do { try keeper.keep(event.id, store: box.store!) } catch {
            box.store = nil
            throw error
        }
    }
    let thread = Thread {
        var store: TileStore?
        while true {
            do {
                if store == nil { store = try TileStore(url: url) }
                try keeper.reconcile(store: store!)
            } catch {
                store = nil
            }
            Thread.sleep(forTimeInterval: 5)
        }
    }
    thread.name = "imgproc-reconcile"
    thread.start()
}
