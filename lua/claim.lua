-- claim.lua — take up to K tiles from the head of the caller's own queue,
-- and return their descriptors in the same reply (one round trip per claim).
-- The pixels are not in Redis: the rank cuts them from its own copy of the
-- stage's input (decoded from the original, or received over MPI).
--
-- KEYS[1] imgproc:{ID}:q:RANK   the caller's queue
-- KEYS[2] imgproc:{ID}:tiles    tile stream; entry 0-(index+1) is tile index
-- KEYS[3] imgproc:{ID}:owner    tile index -> rank that claimed it
-- ARGV[1] the caller's rank
-- ARGV[2] K, most tiles to take
-- Reply:  a list of tiles, each its stream fields {"index", i, "core", "x,y,w,h",
--         "halo", "x,y,w,h"}; empty when the queue is empty
local ids = redis.call('LPOP', KEYS[1], tonumber(ARGV[2]))
if not ids then return {} end
local out = {}
for _, id in ipairs(ids) do
  local entry = redis.call('XRANGE', KEYS[2], '0-' .. (id + 1), '0-' .. (id + 1))
  if entry[1] then
    redis.call('HSET', KEYS[3], id, ARGV[1])
    out[#out + 1] = entry[1][2]
  end
end
return out
