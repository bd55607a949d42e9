-- deal.lua — deal a job's unfinished tiles of its current stage to the
-- queues of a world of N ranks, in contiguous blocks (rank r gets the r-th
-- block, for locality). Starts a queued job (attempt 1) or restarts an
-- interrupted one (attempt + 1, e.g. after a crash); a job that has used up
-- its attempts is failed instead, with the reason.
--
-- Tiles whose output is stored (in the out hash) are not dealt again. Claims
-- of the previous attempt are forgotten. Bounded: one pass over the stage's tiles.
--
-- KEYS[1] imgproc:{ID}:job
-- KEYS[2] imgproc:{ID}:out     tile index -> stored output
-- KEYS[3] imgproc:{ID}:owner   tile index -> rank that claimed it
-- KEYS[4] imgproc:{ID}:tiles   tile stream of the current stage
-- KEYS[5..] imgproc:{ID}:q:0 ... every rank queue that may hold tiles (at
--           least N, and as many as the previous world had)
-- ARGV[1] N, ranks in the world
-- ARGV[2] now, milliseconds
-- ARGV[3] most attempts allowed
-- ARGV[4] why the job is (re)dealt, kept as last_interruption when restarting
-- ARGV[5] "attempt" (default) counts an attempt: a start or a restart after a
--         crash; "continue" does not: the next stage, or tiles lost in transit
-- Reply:  {"running", attempts, tiles dealt} or {"failed", reason}
-- Errors: "NOJOB", "FINISHED" (done or failed jobs are not dealt)
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return redis.error_reply('NOJOB no such job') end
if status == 'done' or status == 'failed' then
  return redis.error_reply('FINISHED job is ' .. status)
end
local n = tonumber(ARGV[1])
local counted = ARGV[5] ~= 'continue'
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') + (counted and 1 or 0)
if counted and attempts > tonumber(ARGV[3]) then
  local reason = 'gave up after ' .. (attempts - 1) .. ' attempts; last: ' ..
                 (redis.call('HGET', KEYS[1], 'last_interruption') or ARGV[4])
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', reason, 'finished_at', ARGV[2])
  return {'failed', reason}
end
for i = 5, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('DEL', KEYS[3])
local total = tonumber(redis.call('HGET', KEYS[1], 'tiles_total'))
if redis.call('XLEN', KEYS[4]) ~= total then
  return redis.error_reply('TILES the tile stream does not hold ' .. total .. ' tiles')
end
local todo = {}
for i = 0, total - 1 do
  if redis.call('HEXISTS', KEYS[2], i) == 0 then todo[#todo + 1] = i end -- no stored output
end
local per = math.floor(#todo / n)
local extra = #todo % n
local at = 1
for r = 0, n - 1 do
  local count = per + ((r < extra) and 1 or 0)
  while count > 0 do
    local chunk = math.min(count, 4000)
    redis.call('RPUSH', KEYS[5 + r], unpack(todo, at, at + chunk - 1))
    at = at + chunk
    count = count - chunk
  end
end
local fields = {'status', 'running', 'attempts', attempts, 'world', n, 'dealt_at', ARGV[2]}
if attempts == 1 and counted then
  fields[#fields + 1] = 'started_at'; fields[#fields + 1] = ARGV[2]
elseif counted then
  fields[#fields + 1] = 'last_interruption'; fields[#fields + 1] = ARGV[4]
end
redis.call('HSET', KEYS[1], unpack(fields))
return {'running', attempts, #todo}
