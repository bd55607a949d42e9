-- finish.lua — store a job's result and mark it done. The job's working
-- keys (tiles, outputs, claims, queues, statistics, bands, original) are
-- deleted; the tile -> rank record of the last stage (imgproc:{ID}:done) is
-- kept for the tile map. A job submitted with keep_source=1 (servers run with
-- --stateless) keeps its original until retention deletes the job, so that
-- every server can answer for it. Idempotent.
--
-- The result comes whole (ARGV[2]), or, when ARGV[3] names bands, written in
-- place: the ranks wrote the bands they encoded into imgproc:{ID}:written,
-- each where it belongs, and recorded each in imgproc:{ID}:placed (first
-- row -> length) after it. ARGV[2] (the head) and ARGV[4] (the tail) are
-- added around them and the string becomes the result. A band not placed
-- (Redis lost it) is an error, and nothing changes.
--
-- KEYS[1] imgproc:{ID}:job
-- KEYS[2] imgproc:{ID}:result   the encoded result
-- KEYS[3] imgproc:{ID}:written  the result being written in place
-- KEYS[4] imgproc:{ID}:placed   the bands written into it
-- KEYS[5..] working keys to delete: imgproc:{ID}:tiles, :out, :owner, :stats,
--           :written, :placed, :source and every rank queue imgproc:{ID}:q:RANK
-- ARGV[1] now, milliseconds
-- ARGV[2] the encoded result, or its head
-- ARGV[3] '' or the bands' first rows in order, comma-separated
-- ARGV[4] '' or the result's tail (not empty)
-- ARGV[5..] more job fields, as name value pairs (sizes, timings)
-- Reply:  "done", or the status the job already had ("done"/"failed")
-- Publishes the job id on the channel imgproc:events.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return redis.error_reply('NOJOB no such job') end
if status == 'done' or status == 'failed' then return status end
if ARGV[3] == '' then
  redis.call('SET', KEYS[2], ARGV[2])
else
  local at = #ARGV[2]
  for y in string.gmatch(ARGV[3], '%d+') do
    local length = tonumber(redis.call('HGET', KEYS[4], y))
    if not length then return redis.error_reply('NOBAND the band at row ' .. y .. ' of the result is not written') end
    at = at + length
  end
  if redis.call('STRLEN', KEYS[3]) ~= at then
    return redis.error_reply('NOBAND the bands written end at byte ' .. redis.call('STRLEN', KEYS[3]) .. ', not ' .. at)
  end
  redis.call('SETRANGE', KEYS[3], 0, ARGV[2])
  redis.call('SETRANGE', KEYS[3], at, ARGV[4])
  redis.call('RENAME', KEYS[3], KEYS[2])
end
local keep = redis.call('HGET', KEYS[1], 'keep_source') == '1'
for i = 4, #KEYS do
  if not (keep and string.sub(KEYS[i], -7) == ':source') then redis.call('UNLINK', KEYS[i]) end
end
redis.call('HSET', KEYS[1], 'status', 'done', 'finished_at', ARGV[1], unpack(ARGV, 5))
redis.call('PUBLISH', 'imgproc:events', string.match(KEYS[1], '{(.-)}'))
return 'done'
