import Foundation
import Hummingbird
import HummingbirdCore
import JobEvents
import Logging
import NIOCore
import ServiceLifecycle
import TileStore

/// Builds the imgproc HTTP application: routes, pages, and its background
/// services: the result keeper (job.done consumer and reconciliation), the
/// retention sweeper, the health check, the job.created publisher and the
/// streams' ticker. SIGTERM or SIGINT shuts it down gracefully: the requests
/// in hand are answered (event streams end), then each service finishes its
/// round and the events are flushed.
/// - Parameters:
///   - config: addresses, limits and folders (``ServerConfiguration``).
///   - logger: the application's logger; request handlers log through `context.logger`, derived from it.
public func buildApplication(_ config: ServerConfiguration, logger: Logger) throws -> some ApplicationProtocol {
    try FileManager.default.createDirectory(at: config.uploads, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: config.processed, withIntermediateDirectories: true)
    let pool = StorePool(url: config.redis, threads: config.redisConnections)
    let metrics = Metrics()
    let keeper = ResultKeeper(directory: config.processed, shared: config.stateless, metrics: metrics, logger: logger)
    let events = EventPublisher(url: config.amqp, logger: logger)
    let watch = JobWatch(url: config.redis)
    let health = HealthCheck()
    let memory = MemoryReturn()
    // Graceful shutdown goes from the last service to the first, after the
    // HTTP server: the Redis pool, which requests use, ends last.
    var services: [any Service] = [OnShutdown { pool.close() }] + keeping(config, keeper: keeper, watch: watch, logger: logger) + [
        health.service(redis: config.redis, amqp: config.amqp),
        memory.service(),
        watch.service(),
        ThreadLoop(name: "imgproc-job-watch-tick", every: config.eventTick) { watch.wakeAll() },
        OnShutdown { events.close(timeout: 5) },
    ]
    if config.retention > 0 { services.append(Sweeper(config, logger: logger).service()) }

    let router = Router(options: .autoGenerateHeadEndpoints)
    router.add(middleware: LogRequestsMiddleware(.debug))
    router.add(middleware: MemoryReturn.Counter(memory: memory))
    router.add(middleware: SecurityHeaders())
    router.add(middleware: MethodGuard())
    let api = router.group("api")
    api.add(middleware: OriginGuard(allowed: config.corsOrigins))
    if let token = config.authToken, !token.isEmpty { api.add(middleware: BearerAuth(token: token)) }
    JobsAPI(config: config, pool: pool, events: events, keeper: keeper, watch: watch, metrics: metrics)
        .register(on: api)

    router.get("/") { _, _ in Respond.page(Pages.home) }
    router.get("jobs/:id") { _, context in Respond.page(Pages.job(try JobsAPI.id(context))) }
    router.get("static/style.css") { _, _ in Respond.text(Pages.style, contentType: "text/css; charset=utf-8") }
    router.get("static/app.js") { _, _ in Respond.text(Pages.script, contentType: "text/javascript; charset=utf-8") }
    let spec = OpenAPI.yaml(config)
    router.get("openapi.yaml") { _, _ in Respond.text(spec, contentType: "application/yaml; charset=utf-8") }
    let metricsRoutes = router.group("metrics")
    if let token = config.authToken, !token.isEmpty, !config.metricsPublic { metricsRoutes.add(middleware: BearerAuth(token: token)) }
    metricsRoutes.get { _, _ in
        let counts = try? await pool.run { try $0.counts() }
        return Respond.text(metrics.text(counts: counts, streams: watch.count),
                            contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
    router.get("healthz") { _, _ in
        let (redis, rabbit) = await health.status(waitingForTheFirstRound: .milliseconds(1500))
        let healthy = redis == "ok" && rabbit == "ok"
        return Respond.json(object: ["redis": redis, "rabbitmq": rabbit], status: healthy ? .ok : .serviceUnavailable)
    }
    return Application(
        router: router,
        server: .http1(configuration: .init(additionalChannelHandlers: [ExpectContinue()],
                                            idleTimeout: .seconds(Int64(config.idleTimeout)))),
        configuration: .init(address: .hostname(config.host, port: config.port), serverName: "imgproc"),
        services: services,
        logger: logger
    )
}

/// Stores results when job.done arrives, and reconciles every few seconds
/// (events lost, or sent while this server was down).
func keeping(_ config: ServerConfiguration, keeper: ResultKeeper, watch: JobWatch, logger: Logger) -> [any Service] {
    let url = config.redis
    final class Box: @unchecked Sendable {
        // @unchecked: used by one thread only (the consumer's, the reconciler's).
        var store: TileStore?
    }
    // Consuming starts when the application runs, and stops at its shutdown.
    let consume = Consuming {
        let box = Box()
        return EventConsumer(url: config.amqp, queue: EventTopology.serverQueue, logger: logger) { event in
            if box.store == nil { box.store = try TileStore(url: url) }
            // Redis announces the end too; RabbitMQ's event wakes the job's streams should that be missed.
            watch.wake(event.id)
            do { try keeper.keep(event.id, store: box.store!) } catch {
                box.store = nil
                throw error
            }
        }
    }
    let reconciling = Box()
    let reconcile = ThreadLoop(name: "imgproc-reconcile", every: 5) {
        do {
            if reconciling.store == nil { reconciling.store = try TileStore(url: url) }
            try keeper.reconcile(store: reconciling.store!)
        } catch {
            reconciling.store = nil
        }
    }
    return [reconcile, consume]
}
