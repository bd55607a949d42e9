-- begin.lua — start (or restart) a job that runs whole: an image that fits
-- one tile, decoded, processed and encoded by whichever rank takes it from
-- its round (take.lua). Counts the attempt, or fails the job when it has
-- used them up (a poison image never loops forever), as deal.lua does for
-- tiled jobs.
--
-- KEYS[1] imgproc:{ID}:job
-- KEYS[2] imgproc:{ID}:done    tile index -> rank (reset: the job runs again)
-- ARGV[1] N, ranks in the world
-- ARGV[2] now, milliseconds
-- ARGV[3] most attempts allowed
-- ARGV[4] why the job is (re)started, kept as last_interruption when restarting
-- Reply:  {"running", attempts} or {"failed", reason}
-- Errors: "NOJOB", "FINISHED"
-- Publishes the job id on the channel imgproc:events.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return redis.error_reply('NOJOB no such job') end
if status == 'done' or status == 'failed' then
  return redis.error_reply('FINISHED job is ' .. status)
end
local id = string.match(KEYS[1], '{(.-)}')
local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') + 1
if attempts > tonumber(ARGV[3]) then
  local reason = 'gave up after ' .. (attempts - 1) .. ' attempts; last: ' ..
                 (redis.call('HGET', KEYS[1], 'last_interruption') or ARGV[4])
  redis.call('HSET', KEYS[1], 'status', 'failed', 'error', reason, 'finished_at', ARGV[2])
  redis.call('PUBLISH', 'imgproc:events', id)
  return {'failed', reason}
end
redis.call('DEL', KEYS[2])
local fields = {'status', 'running', 'attempts', attempts, 'world', ARGV[1], 'dealt_at', ARGV[2], 'tiles_done', 0}
if attempts == 1 then
  fields[#fields + 1] = 'started_at'; fields[#fields + 1] = ARGV[2]
else
  fields[#fields + 1] = 'last_interruption'; fields[#fields + 1] = ARGV[4]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PUBLISH', 'imgproc:events', id)
return {'running', attempts}
