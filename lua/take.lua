-- take.lua — take the next job of a round of whole jobs (see begin.lua):
-- from the head of the caller's own list, else, stealing, from the tail of
-- the longest other list. Rank 0 deals a round with RPUSH, in contiguous
-- blocks, one list per rank.
--
-- KEYS[1] imgproc:{round:CONSUMER}:owner   job id -> rank that took it
-- KEYS[2..] imgproc:{round:CONSUMER}:q:0 ... q:N-1
-- ARGV[1] the caller's rank
-- Reply:  {job id, rank it was dealt to}, or {} when every list is empty
local me = tonumber(ARGV[1])
local id = redis.call('LPOP', KEYS[2 + me])
local from = me
if not id then
  local longest = 0
  for i = 2, #KEYS do
    local len = redis.call('LLEN', KEYS[i])
    if i - 2 ~= me and len > longest then from, longest = i - 2, len end
  end
  if longest == 0 then return {} end
  id = redis.call('RPOP', KEYS[2 + from])
end
redis.call('HSET', KEYS[1], id, me)
return {id, from}
