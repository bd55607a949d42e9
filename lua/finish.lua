-- finish.lua — store a job's result and mark it done. The job's working
-- keys (tiles, outputs, claims, queues, statistics, original) are deleted;
-- the tile -> rank record of the last stage (imgproc:{ID}:done) is kept
-- for the tile map. A job submitted with keep_source=1 (servers run with
-- --stateless) keeps its original until retention deletes the job, so that
-- every server can answer for it. Idempotent.
--
-- KEYS[1] imgproc:{ID}:job
-- KEYS[2] imgproc:{ID}:result  the encoded result
-- KEYS[3..] working keys to delete: imgproc:{ID}:tiles, :out, :owner, :stats,
--           :source and every rank queue imgproc:{ID}:q:RANK
-- ARGV[1] now, milliseconds
-- ARGV[2] the encoded result
-- ARGV[3..] more job fields, as name value pairs (sizes, timings)
-- Reply:  "done", or the status the job already had ("done"/"failed")
-- Publishes the job id on the channel imgproc:events.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return redis.error_reply('NOJOB no such job') end
if status == 'done' or status == 'failed' then return status end
redis.call('SET', KEYS[2], ARGV[2])
local keep = redis.call('HGET', KEYS[1], 'keep_source') == '1'
for i = 3, #KEYS do
  if not (keep and string.sub(KEYS[i], -7) == ':source') then redis.call('UNLINK', KEYS[i]) end
end
redis.call('HSET', KEYS[1], 'status', 'done', 'finished_at', ARGV[1], unpack(ARGV, 3))
redis.call('PUBLISH', 'imgproc:events', string.match(KEYS[1], '{(.-)}'))
return 'done'
