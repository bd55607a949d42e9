-- next.lua — the next job entry for a consumer of the job queue: first one
-- this consumer took and never acknowledged (its previous incarnation was
-- interrupted), then one whose consumer has been silent for MIN_IDLE ms (it
-- died: the job is taken over with XAUTOCLAIM), else a new entry
-- (XREADGROUP). Never blocks; callers wait between polls. Touches the queue
-- only: the caller then reads the job itself (its keys are in another slot).
--
-- Redis 7's XAUTOCLAIM replies {cursor, entries, deleted ids}: entries that
-- were deleted while pending come back in the third element, are already
-- dropped from the pending list, and are only counted here.
--
-- KEYS[1] imgproc:jobs
-- ARGV[1] consumer group ("workers"; created when missing)
-- ARGV[2] consumer name
-- ARGV[3] MIN_IDLE, milliseconds
-- Reply:  {"resumed" | "reclaimed" | "new", entry id, job id},
--         or {"none", deleted entries skipped}
pcall(redis.call, 'XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
local deleted = 0
for _ = 1, 10 do
  local own = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', KEYS[1], '0')
  local entry = own and own[1] and own[1][2][1]
  if not entry then break end
  local fields = entry[2]
  if not fields or fields == false then
    -- Deleted while pending: only its id is left.
    redis.call('XACK', KEYS[1], ARGV[1], entry[1])
    deleted = deleted + 1
  else
    for i = 1, #fields, 2 do
      if fields[i] == 'id' then return {'resumed', entry[1], fields[i + 1]} end
    end
    redis.call('XACK', KEYS[1], ARGV[1], entry[1])
  end
end
local cursor = '0-0'
for _ = 1, 10 do
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', 10)
  if r[3] then deleted = deleted + #r[3] end
  for _, entry in ipairs(r[2]) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'id' then return {'reclaimed', entry[1], fields[i + 1]} end
    end
  end
  cursor = r[1]
  if cursor == '0-0' then break end
end
local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', 1, 'STREAMS', KEYS[1], '>')
if r and r[1] and r[1][2][1] then
  local entry = r[1][2][1]
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'id' then return {'new', entry[1], fields[i + 1]} end
  end
end
return {'none', deleted}
