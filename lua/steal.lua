-- steal.lua — for a rank whose own queue is empty: take up to K tiles (and
-- at most half, rounded up) from the tail of the longest other queue, the
-- end its owner reaches last, and return their descriptors in the same reply,
-- in queue order (top to bottom): the thief's decoder moves down through them.
--
-- KEYS[1] imgproc:{ID}:tiles
-- KEYS[2] imgproc:{ID}:owner
-- KEYS[3..] imgproc:{ID}:q:0 ... imgproc:{ID}:q:N-1, every queue of the world
-- ARGV[1] the thief's rank
-- ARGV[2] K, most tiles to take
-- Reply:  {victim rank, tile, tile, ...} with tiles as in claim.lua;
--         {-1} when every other queue is empty
local thief = tonumber(ARGV[1])
local victim, longest = -1, 0
for i = 3, #KEYS do
  local rank = i - 3
  if rank ~= thief then
    local len = redis.call('LLEN', KEYS[i])
    if len > longest then victim, longest = rank, len end
  end
end
if victim < 0 then return {-1} end
local take = math.min(tonumber(ARGV[2]), math.ceil(longest / 2))
local ids = redis.call('RPOP', KEYS[3 + victim], take)
local out = {victim}
for k = #ids, 1, -1 do
  local id = ids[k]
  local entry = redis.call('XRANGE', KEYS[1], '0-' .. (id + 1), '0-' .. (id + 1))
  if entry[1] then
    redis.call('HSET', KEYS[2], id, ARGV[1])
    out[#out + 1] = entry[1][2]
  end
end
return out
