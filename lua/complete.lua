-- complete.lua — record processed tiles: the rank that made each and,
-- unless it is empty, its output (kept so that a restart does not redo the
-- tile). Idempotent: a tile completed twice keeps its first record and is
-- counted once (outputs are deterministic, so either copy is the same).
--
-- KEYS[1] imgproc:{ID}:job
-- KEYS[2] imgproc:{ID}:done   tile index -> rank
-- KEYS[3] imgproc:{ID}:out    tile index -> processed pixels of the tile's core
-- ARGV[1] rank
-- ARGV[2..] tile index, output bytes (or "" to record only who made it), ...
-- Reply:  {tiles done so far, tiles total}
-- Publishes the job id on the channel imgproc:events (progress is pushed).
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[1]) == 1 then
    redis.call('HINCRBY', KEYS[1], 'tiles_done', 1)
  end
  if ARGV[i + 1] ~= '' then redis.call('HSETNX', KEYS[3], ARGV[i], ARGV[i + 1]) end
end
redis.call('PUBLISH', 'imgproc:events', string.match(KEYS[1], '{(.-)}'))
return {tonumber(redis.call('HGET', KEYS[1], 'tiles_done')), tonumber(redis.call('HGET', KEYS[1], 'tiles_total'))}
