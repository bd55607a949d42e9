-- finish.lua — store a job's result and mark it done. Its tiles, outputs,
-- claims and queues are deleted; the tile -> rank record of the last stage
-- (imgproc:{ID}:done) is kept for the tile map. Idempotent.
--
-- KEYS[1] imgproc:{ID}:job
-- KEYS[2] imgproc:{ID}:result  the encoded result
-- KEYS[3] imgproc:{ID}:tiles
-- KEYS[4] imgproc:{ID}:out
-- KEYS[5] imgproc:{ID}:owner
-- KEYS[6] imgproc:{ID}:source
-- KEYS[7..] every rank queue of the world
-- ARGV[1] now, milliseconds
-- ARGV[2] the encoded result
-- ARGV[3..] more job fields, as name value pairs (sizes, timings)
-- Reply:  "done", or the status the job already had ("done"/"failed")
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return redis.error_reply('NOJOB no such job') end
if status == 'done' or status == 'failed' then return status end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5], KEYS[6])
for i = 7, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('HSET', KEYS[1], 'status', 'done', 'finished_at', ARGV[1], unpack(ARGV, 3))
return 'done'
