-- Commits one org generation: the fenced, atomic pointer flip of the Redis metric store.
--
-- The writer has already staged the generation's chunks (short TTL) under KEYS[9 .. 8+n]. This
-- script, atomically:
--   1. when the write is fenced (ARGV[13] = '1'), rejects it unless the lease key still holds
--      the writer's lease value: a paused or cut-off ex-holder never lands a write, even before
--      the new holder has written;
--   2. rejects the write when its epoch (ARGV[2]) is older than the epoch stored in the org's
--      pointer (a newer tenure already wrote this org). Epochs are per org: holders of
--      different orgs' leases never fence each other out;
--      a rejection (1 or 2) mutates nothing but gh_exporter_store_write_total{result=
--      "stale_epoch"} in the counters hash and the data version (so replicas see the count);
--   3. detects a concurrent commit for the same org (the pointer is not the one the writer read);
--   4. checks the series budget in O(1) against the stored total;
--   5. flips the org pointer to the new generation, updates the total, the retention index,
--      the chunk TTLs (new: retention + grace; superseded: grace, so in-flight readers finish),
--      the data version, and applies the batch's counter packets exactly once: a packet whose
--      id is already in the counter-packets zset is skipped, the others are added and their
--      ids recorded with Redis TIME (ms). Ids older than ARGV[15] ms are trimmed on every
--      commit, and the zset itself expires ARGV[15] ms after the last id it recorded, so it
--      holds at most the ids committed within that window.
--
-- KEYS: 1 orgs hash, 2 total, 3 version, 4 counters hash, 5 expiry zset, 6 incarnation,
--       7 counter-packets zset (id -> commit time ms), 8 lease key (read only when ARGV[13] =
--       '1'; unfenced writes pass the orgs hash again), 9.. new chunk keys (ARGV[5] of them),
--       then superseded chunk keys.
-- ARGV: 1 org, 2 epoch, 3 generation, 4 series count, 5 chunk count, 6 expected current
--       pointer ('' = none), 7 budget (0 = unlimited), 8 series rejected by the budget,
--       9 retention ms, 10 grace ms, 11 proposed incarnation token, 12 wire version,
--       13 fenced ('1': check the lease, '0': epoch only), 14 lease value,
--       15 counter-packet id window ms, 16 packet count P, then P packets, each:
--       id, n, then n pairs of (counters-hash field, delta).
-- Returns {'ok', version, incarnation} | {'stale', current_epoch} | {'conflict'} |
--         {'budget', series held by the other orgs}. For a lease rejection current_epoch is
--         the epoch the live lease value starts with (`epoch|token|identity`), 0 when none.

local WRITE_SUCCESS = 'gh_exporter_store_write\31result\30success'
local WRITE_STALE = 'gh_exporter_store_write\31result\30stale_epoch'
local REJECTED = 'gh_exporter_store_series_rejected'
local FIRST_CHUNK = 9

local function stale(current)
  redis.call('SET', KEYS[6], ARGV[11], 'NX')
  redis.call('HINCRBYFLOAT', KEYS[4], WRITE_STALE, 1)
  redis.call('INCR', KEYS[3])
  return {'stale', tostring(current)}
end

if ARGV[13] == '1' then
  local live = redis.call('GET', KEYS[8])
  if live ~= ARGV[14] then
    return stale(tonumber(string.match(live or '', '^(%d+)|')) or 0)
  end
end

local epoch = tonumber(ARGV[2])
local old = redis.call('HGET', KEYS[1], ARGV[1])
local old_count = 0
if old then
  local series, old_epoch = string.match(old, '^%d+:%d+:(%d+):%d+:(%d+):')
  old_count = tonumber(series)
  if epoch < tonumber(old_epoch) then
    return stale(old_epoch)
  end
end
if (old or '') ~= ARGV[6] then
  return {'conflict'}
end

local count = tonumber(ARGV[4])
local others = tonumber(redis.call('GET', KEYS[2]) or '0') - old_count
local budget = tonumber(ARGV[7])
if budget > 0 and others + count > budget and count > old_count then
  return {'budget', tostring(others)}
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local retention = tonumber(ARGV[9])
local grace = tonumber(ARGV[10])
local chunks = tonumber(ARGV[5])
local window = tonumber(ARGV[15])

redis.call('HSET', KEYS[1], ARGV[1],
  ARGV[12] .. ':' .. ARGV[3] .. ':' .. ARGV[4] .. ':' .. ARGV[5] .. ':' .. ARGV[2] .. ':' .. now)
redis.call('SET', KEYS[2], others + count)
redis.call('ZADD', KEYS[5], now + retention, ARGV[1])
for i = FIRST_CHUNK, FIRST_CHUNK - 1 + chunks do
  redis.call('PEXPIRE', KEYS[i], retention + grace)
end
for i = FIRST_CHUNK + chunks, #KEYS do
  redis.call('PEXPIRE', KEYS[i], grace, 'LT')
end
redis.call('HINCRBYFLOAT', KEYS[4], WRITE_SUCCESS, 1)
if tonumber(ARGV[8]) > 0 then
  redis.call('HINCRBYFLOAT', KEYS[4], REJECTED, ARGV[8])
end

redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - window)
local packets = tonumber(ARGV[16])
local at = 17
local recorded = false
for _ = 1, packets do
  local id = ARGV[at]
  local n = tonumber(ARGV[at + 1])
  at = at + 2
  if n > 0 and not redis.call('ZSCORE', KEYS[7], id) then
    for i = at, at + 2 * n - 1, 2 do
      redis.call('HINCRBYFLOAT', KEYS[4], ARGV[i], ARGV[i + 1])
    end
    redis.call('ZADD', KEYS[7], now, id)
    recorded = true
  end
  at = at + 2 * n
end
if recorded then
  redis.call('PEXPIRE', KEYS[7], window)
end

redis.call('SET', KEYS[6], ARGV[11], 'NX')
local version = redis.call('INCR', KEYS[3])
return {'ok', tostring(version), redis.call('GET', KEYS[6])}
