import Testing
import WorkerOptions

@Suite("Worker options")
struct WorkerOptionsTests {
    /// What `imgproc workers` hands its ranks parses back to the options it was given.
    @Test func argumentsParseBackTheSame() throws {
        let given = try WorkerOptions.parse(["--batch", "4", "--no-steal", "--durable-tiles", "--job-timeout", "2.5",
                                             "--jobs-per-round", "9", "--max-attempts", "5", "--reclaim-after", "12",
                                             "--exit-when-idle", "3"])
        let again = try WorkerOptions.parse(given.arguments)
        #expect(again.batch == 4 && again.noSteal && again.durableTiles && again.jobTimeout == 2.5 && again.jobsPerRound == 9)
        #expect(again.maxAttempts == 5 && again.reclaimAfter == 12 && again.exitWhenIdle == 3)
        let defaults = try WorkerOptions.parse(try WorkerOptions.parse([]).arguments)
        #expect(defaults.batch == nil && !defaults.noSteal && defaults.jobTimeout == 600 && defaults.maxAttempts == 3
                && defaults.reclaimAfter == 30 && defaults.exitWhenIdle == nil)
    }
}
