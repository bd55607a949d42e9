-- next.lua — up to COUNT job entries for a consumer of the job queue: first
-- those this consumer took and never acknowledged (its previous incarnation
-- was interrupted, or it left them for its next round), then those whose
-- consumer has been silent for MIN_IDLE ms (it died: they are taken over
-- with XAUTOCLAIM), then new ones (XREADGROUP). Never blocks; callers wait
-- between polls. Touches the queue only: the caller then reads the jobs
-- themselves (their keys are in other slots).
--
-- Redis 7's XAUTOCLAIM replies {cursor, entries, deleted ids}: entries that
-- were deleted while pending come back in the third element, are already
-- dropped from the pending list, and are only counted here.
--
-- KEYS[1] imgproc:jobs
-- ARGV[1] consumer group ("workers"; created when missing)
-- ARGV[2] consumer name
-- ARGV[3] MIN_IDLE, milliseconds
-- ARGV[4] COUNT, most entries to return (default 1)
-- Reply:  {kind, entry id, job id, kind, entry id, job id, ...} with kind
--         "resumed", "reclaimed" or "new"; {} when there is nothing
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
local want = tonumber(ARGV[4] or '1')
local out = {}
local function take(kind, entry)
  local fields = entry[2]
  if fields and fields ~= false then
    for i = 1, #fields, 2 do
      if fields[i] == 'id' then
        out[#out + 1] = kind; out[#out + 1] = entry[1]; out[#out + 1] = fields[i + 1]
        return
      end
    end
  end
  -- Deleted while pending (only its id is left), or not a job entry.
  redis.call('XACK', KEYS[1], ARGV[1], entry[1])
end
local own = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', want, 'STREAMS', KEYS[1], '0')
if own and own[1] then
  for _, entry in ipairs(own[1][2]) do take('resumed', entry) end
end
local cursor = '0-0'
for _ = 1, 10 do
  if #out >= 3 * want then break end
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', want - #out / 3)
  for _, entry in ipairs(r[2]) do take('reclaimed', entry) end
  cursor = r[1]
  if cursor == '0-0' then break end
end
if #out < 3 * want then
  local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', want - #out / 3, 'STREAMS', KEYS[1], '>')
  if r and r[1] then
    for _, entry in ipairs(r[1][2]) do take('new', entry) end
  end
end
return out
