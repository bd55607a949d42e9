-- fail.lua — mark a job failed with a reason users can read; its tiles,
-- outputs, claims and queues are deleted. Idempotent.
--
-- KEYS[1] imgproc:{ID}:job
-- KEYS[2] imgproc:{ID}:tiles
-- KEYS[3] imgproc:{ID}:out
-- KEYS[4] imgproc:{ID}:owner
-- KEYS[5] imgproc:{ID}:source
-- KEYS[6..] every rank queue of the world
-- ARGV[1] now, milliseconds
-- ARGV[2] reason
-- Reply:  "failed", or the status the job already had ("done"/"failed")
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return redis.error_reply('NOJOB no such job') end
if status == 'done' or status == 'failed' then return status end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
for i = 6, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[2], 'finished_at', ARGV[1])
return 'failed'
