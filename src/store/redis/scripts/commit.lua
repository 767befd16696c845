-- Commits one org generation: the fenced, atomic pointer flip of the Redis metric store.
--
-- The writer has already staged the generation's chunks (short TTL) under KEYS[8 .. 7+n]. This
-- script, atomically:
--   1. rejects the write when ARGV[2] (the writer's fencing epoch) is older than the stored
--      epoch, counting it as gh_exporter_store_write_total{result="stale_epoch"};
--   2. detects a concurrent commit for the same org (the pointer is not the one the writer read);
--   3. checks the series budget in O(1) against the stored total;
--   4. flips the org pointer to the new generation, updates the total, the retention index,
--      the chunk TTLs (new: retention + grace; superseded: grace, so in-flight readers finish),
--      the shared counters and the data version.
--
-- KEYS: 1 epoch, 2 orgs hash, 3 total, 4 version, 5 counters hash, 6 expiry zset,
--       7 incarnation, 8.. new chunk keys (ARGV[5] of them), then superseded chunk keys.
-- ARGV: 1 org, 2 epoch, 3 generation, 4 series count, 5 chunk count, 6 expected current
--       pointer ('' = none), 7 budget (0 = unlimited), 8 series rejected by the budget,
--       9 retention ms, 10 grace ms, 11 proposed incarnation token, 12 wire version,
--       13.. pairs of (counters-hash field, delta): the batch's shared counter increments.
-- Returns {'ok', version, incarnation} | {'stale', current_epoch} | {'conflict'} |
--         {'budget', series held by the other orgs}.

local WRITE_SUCCESS = 'gh_exporter_store_write\31result\30success'
local WRITE_STALE = 'gh_exporter_store_write\31result\30stale_epoch'
local REJECTED = 'gh_exporter_store_series_rejected'

local epoch = tonumber(ARGV[2])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if epoch < current then
  redis.call('SET', KEYS[7], ARGV[11], 'NX')
  redis.call('HINCRBYFLOAT', KEYS[5], WRITE_STALE, 1)
  redis.call('INCR', KEYS[4])
  return {'stale', tostring(current)}
end

local old = redis.call('HGET', KEYS[2], ARGV[1])
if (old or '') ~= ARGV[6] then
  return {'conflict'}
end
local old_count = 0
if old then
  old_count = tonumber(string.match(old, '^%d+:%d+:(%d+):'))
end

local count = tonumber(ARGV[4])
local others = tonumber(redis.call('GET', KEYS[3]) or '0') - old_count
local budget = tonumber(ARGV[7])
if budget > 0 and others + count > budget and count > old_count then
  return {'budget', tostring(others)}
end

if epoch > current then
  redis.call('SET', KEYS[1], ARGV[2])
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local retention = tonumber(ARGV[9])
local grace = tonumber(ARGV[10])
local chunks = tonumber(ARGV[5])

redis.call('HSET', KEYS[2], ARGV[1],
  ARGV[12] .. ':' .. ARGV[3] .. ':' .. ARGV[4] .. ':' .. ARGV[5] .. ':' .. ARGV[2] .. ':' .. now)
redis.call('SET', KEYS[3], others + count)
redis.call('ZADD', KEYS[6], now + retention, ARGV[1])
for i = 8, 7 + chunks do
  redis.call('PEXPIRE', KEYS[i], retention + grace)
end
for i = 8 + chunks, #KEYS do
  redis.call('PEXPIRE', KEYS[i], grace, 'LT')
end
redis.call('HINCRBYFLOAT', KEYS[5], WRITE_SUCCESS, 1)
if tonumber(ARGV[8]) > 0 then
  redis.call('HINCRBYFLOAT', KEYS[5], REJECTED, ARGV[8])
end
for i = 13, #ARGV - 1, 2 do
  redis.call('HINCRBYFLOAT', KEYS[5], ARGV[i], ARGV[i + 1])
end
redis.call('SET', KEYS[7], ARGV[11], 'NX')
local version = redis.call('INCR', KEYS[4])
return {'ok', tostring(version), redis.call('GET', KEYS[7])}
