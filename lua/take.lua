-- take.lua — take the next job of a round of whole jobs (see begin.lua):
-- from the head of the caller's own list, else, stealing, from the tail of
-- the longest other list. Rank 0 deals a round with RPUSH, in contiguous
-- blocks, one list per rank, and may add jobs to it while it is open.
--
-- KEYS[1] imgproc:{round:CONSUMER}:owner   job id -> rank that took it
-- KEYS[2] imgproc:{round:CONSUMER}:open    exists while rank 0 may add jobs
-- KEYS[3..] imgproc:{round:CONSUMER}:q:0 ... q:N-1
-- ARGV[1] the caller's rank
-- Reply:  {job id, rank it was dealt to}; {"", -1} when every list is empty
--         but the round is open (ask again soon); {} when the round is over
local me = tonumber(ARGV[1])
local id = redis.call('LPOP', KEYS[3 + me])
local from = me
if not id then
  local longest = 0
  for i = 3, #KEYS do
    local len = redis.call('LLEN', KEYS[i])
    if i - 3 ~= me and len > longest then from, longest = i - 3, len end
  end
  if longest == 0 then
    if redis.call('EXISTS', KEYS[2]) == 1 then return {'', -1} end
    return {}
  end
  id = redis.call('RPOP', KEYS[3 + from])
end
redis.call('HSET', KEYS[1], id, me)
return {id, from}
