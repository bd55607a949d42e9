-- submit.lua — publish a job whose tile descriptors (index, core and halo
-- rectangles of stage 0; no pixels) are already in its tile stream.
--
-- The job hash is written and the job put on the queue in one atomic step,
-- so a job is either invisible or complete and queued. The tiles were added
-- beforehand, with the original (pipelined in the same round trip, with an
-- expiry so an abandoned upload cleans itself up), or the original was
-- copied in while its upload arrived; this script checks the tiles are all
-- there and the original has the job's source_bytes, and removes the expiry.
--
-- This is the one script that may also touch global keys (the queue and the
-- index); every other script touches the keys of one job, i.e. one slot. On
-- a Redis Cluster they are in other slots, so the client passes the job's
-- three keys only: the job is then written with a 10-minute expiry and the
-- reply is "unqueued"; the client adds it to the index and the queue, and
-- then removes the expiry (PERSIST). A client that dies in between leaves a
-- job nobody was told of, which expires.
--
-- KEYS[1] imgproc:{ID}:job     job hash (must not exist)
-- KEYS[2] imgproc:{ID}:tiles   tile stream of stage 0
-- KEYS[3] imgproc:{ID}:source  the encoded original
-- KEYS[4] imgproc:jobs         job queue stream (consumer group "workers"); optional
-- KEYS[5] imgproc:index        sorted set of job ids by creation time; optional
-- ARGV[1] job id
-- ARGV[2] now, milliseconds since the epoch
-- ARGV[3..] job fields, as name value pairs; must include tiles_total
-- Reply:  the queue entry id, or "unqueued" without KEYS[4] and KEYS[5]
-- Errors: "EXISTS ..." when the job exists, "TILES ..." when tiles are missing,
--         "SOURCE ..." when the original is missing or short
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.error_reply('EXISTS job ' .. ARGV[1] .. ' already exists')
end
local total, bytes = nil, nil
for i = 3, #ARGV, 2 do
  if ARGV[i] == 'tiles_total' then total = tonumber(ARGV[i + 1]) end
  if ARGV[i] == 'source_bytes' then bytes = tonumber(ARGV[i + 1]) end
end
local have = redis.call('XLEN', KEYS[2])
if total == nil or have ~= total then
  return redis.error_reply('TILES job ' .. ARGV[1] .. ' has ' .. have .. ' tiles, expected ' .. tostring(total))
end
if bytes ~= nil then
  local held = redis.call('STRLEN', KEYS[3])
  if held ~= bytes then
    return redis.error_reply('SOURCE job ' .. ARGV[1] .. ' has ' .. held .. ' bytes of its original, expected ' .. bytes)
  end
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'status', 'queued', 'stage', 0, 'tiles_done', 0,
           'attempts', 0, 'created_at', ARGV[2], unpack(ARGV, 3))
redis.call('PERSIST', KEYS[2])
redis.call('PERSIST', KEYS[3])
if #KEYS < 5 then
  redis.call('PEXPIRE', KEYS[1], 600000)
  return 'unqueued'
end
redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1])
return redis.call('XADD', KEYS[4], '*', 'id', ARGV[1])
