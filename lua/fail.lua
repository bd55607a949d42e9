-- fail.lua — mark a job failed with a reason users can read. The job's
-- working keys are deleted, as in finish.lua (the original stays with
-- keep_source=1). Idempotent: on a job already
-- failed (e.g. by deal.lua after its last attempt) it only deletes them.
--
-- KEYS[1] imgproc:{ID}:job
-- KEYS[2..] working keys to delete: imgproc:{ID}:tiles, :out, :owner, :stats,
--           :written, :placed, :source and every rank queue imgproc:{ID}:q:RANK
-- ARGV[1] now, milliseconds
-- ARGV[2] reason
-- Reply:  "failed", or the status the job already had ("done"/"failed")
-- Publishes the job id on the channel imgproc:events.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return redis.error_reply('NOJOB no such job') end
if status == 'done' then return status end
local keep = redis.call('HGET', KEYS[1], 'keep_source') == '1'
for i = 2, #KEYS do
  if not (keep and string.sub(KEYS[i], -7) == ':source') then redis.call('UNLINK', KEYS[i]) end
end
if status == 'failed' then return status end
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[2], 'finished_at', ARGV[1])
redis.call('PUBLISH', 'imgproc:events', string.match(KEYS[1], '{(.-)}'))
return 'failed'
