-- deal.lua — deal a job's tiles of its current stage to the queues of a
-- world of N ranks, in contiguous blocks (rank r gets the r-th block), each
-- top to bottom: a rank decodes the original as its tiles need it, and a
-- JPEG or PNG decoder only moves down (rows above it mean starting again
-- from the top). The owner takes from the head, thieves from the tail.
--
-- "attempt" starts a queued job (attempt 1) or restarts an interrupted one
-- (attempt + 1, e.g. after a crash): claims of the previous attempt are
-- forgotten, every tile without a stored output (--durable-tiles) is dealt
-- again and progress counts the stored ones only. A job that has used up
-- its attempts is failed instead, with the reason. "continue" deals without
-- counting: the next stage, or (with ARGV[6..]) only the tiles listed, lost
-- in transit. Bounded: one pass over the stage's tiles.
--
-- KEYS[1] imgproc:{ID}:job
-- KEYS[2] imgproc:{ID}:out     tile index -> stored output
-- KEYS[3] imgproc:{ID}:owner   tile index -> rank that claimed it
-- KEYS[4] imgproc:{ID}:tiles   tile stream of the current stage
-- KEYS[5] imgproc:{ID}:done    tile index -> rank that completed it
-- KEYS[6..] imgproc:{ID}:q:0 ... every rank queue that may hold tiles (at
--           least N, and as many as the previous world had)
-- ARGV[1] N, ranks in the world
-- ARGV[2] now, milliseconds
-- ARGV[3] most attempts allowed
-- ARGV[4] why the job is (re)dealt, kept as last_interruption when restarting
-- ARGV[5] "attempt" or "continue"
-- ARGV[6..] ("continue" only, optional) the tile indexes to deal
-- Reply:  {"running", attempts, tiles dealt} or {"failed", reason}
-- Errors: "NOJOB", "FINISHED" (done or failed jobs are not dealt),
--         "TILES" (the stream does not hold the stage's tiles)
-- Publishes the job id on the channel imgproc:events.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return redis.error_reply('NOJOB no such job') end
if status == 'done' or status == 'failed' then
  return redis.error_reply('FINISHED job is ' .. status)
end
local id = string.match(KEYS[1], '{(.-)}')
local n = tonumber(ARGV[1])
local counted = ARGV[5] ~= 'continue'
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') + (counted and 1 or 0)
if counted and attempts > tonumber(ARGV[3]) then
  local reason = 'gave up after ' .. (attempts - 1) .. ' attempts; last: ' ..
                 (redis.call('HGET', KEYS[1], 'last_interruption') or ARGV[4])
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', reason, 'finished_at', ARGV[2])
  redis.call('PUBLISH', 'imgproc:events', id)
  return {'failed', reason}
end
local total = tonumber(redis.call('HGET', KEYS[1], 'tiles_total'))
if redis.call('XLEN', KEYS[4]) ~= total then
  return redis.error_reply('TILES the tile stream does not hold ' .. total .. ' tiles')
end
local todo = {}
for i = 6, #KEYS do redis.call('DEL', KEYS[i]) end
if #ARGV > 5 then
  for i = 6, #ARGV do todo[#todo + 1] = tonumber(ARGV[i]) end
else
  redis.call('DEL', KEYS[3])
  for i = 0, total - 1 do
    if redis.call('HEXISTS', KEYS[2], i) == 0 then
      todo[#todo + 1] = i
      if counted then redis.call('HDEL', KEYS[5], i) end
    end
  end
  if counted then redis.call('HSET', KEYS[1], 'tiles_done', total - #todo) end
end
local per = math.floor(#todo / n)
local extra = #todo % n
local at = 1
for r = 0, n - 1 do
  local count = per + ((r < extra) and 1 or 0)
  local block = {}
  for i = at, at + count - 1 do block[#block + 1] = todo[i] end
  at = at + count
  for c = 1, #block, 4000 do
    redis.call('RPUSH', KEYS[5 + r + 1], unpack(block, c, math.min(c + 3999, #block)))
  end
end
local fields = {'status', 'running', 'attempts', attempts, 'world', n, 'dealt_at', ARGV[2]}
if attempts == 1 and counted then
  fields[#fields + 1] = 'started_at'; fields[#fields + 1] = ARGV[2]
elseif counted then
  fields[#fields + 1] = 'last_interruption'; fields[#fields + 1] = ARGV[4]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PUBLISH', 'imgproc:events', id)
return {'running', attempts, #todo}
