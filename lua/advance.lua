-- advance.lua — move a running job to its next stage (after a global step
-- such as canny's hysteresis or clahe's histograms): the finished stage's
-- tiles, outputs and claims are deleted and the counters reset. The new
-- stage's tiles are then added to the tile stream and dealt with deal.lua.
--
-- KEYS[1] imgproc:{ID}:job
-- KEYS[2] imgproc:{ID}:tiles
-- KEYS[3] imgproc:{ID}:done
-- KEYS[4] imgproc:{ID}:out
-- KEYS[5] imgproc:{ID}:owner
-- KEYS[6..] every rank queue of the world
-- ARGV[1] the new stage's index
-- ARGV[2] the new stage's tile count
-- ARGV[3..] more job fields to set, as name value pairs (e.g. stage shapes)
-- Reply:  the new stage index
-- Publishes the job id on the channel imgproc:events.
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
for i = 6, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('HSET', KEYS[1], 'stage', ARGV[1], 'tiles_total', ARGV[2], 'tiles_done', 0, unpack(ARGV, 3))
redis.call('PUBLISH', 'imgproc:events', string.match(KEYS[1], '{(.-)}'))
return tonumber(ARGV[1])
