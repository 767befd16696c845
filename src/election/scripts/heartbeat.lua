-- Announces a live member and returns the live members, refusing a second live process with
-- the same identity.
-- KEYS[1] members (ZSET identity -> Redis time ms of its last heartbeat)
-- KEYS[2] members:info (HASH identity -> 'nonce|orgs-fingerprint')
-- ARGV[1] identity, ARGV[2] nonce of this process, ARGV[3] orgs fingerprint,
-- ARGV[4] lease duration (ms): a member is live while its last heartbeat is younger.
-- Returns {'duplicate'} or {'ok', {identity, ...}, ms until the stalest OTHER member expires
-- (-1 when there is none)}, so the caller can look again the moment a silent member drops out.
local identity, nonce, ttl = ARGV[1], ARGV[2], tonumber(ARGV[4])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local cutoff = now - ttl

-- Forget stale members (and their info) first: a stale holder of our identity is no conflict.
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', cutoff))
for _, member in ipairs(stale) do
  redis.call('HDEL', KEYS[2], member)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%d', cutoff))

local info = redis.call('HGET', KEYS[2], identity)
if info then
  local sep = string.find(info, '|', 1, true)
  local owner = sep and string.sub(info, 1, sep - 1) or info
  if owner ~= nonce and redis.call('ZSCORE', KEYS[1], identity) then
    return {'duplicate'}
  end
end

redis.call('HSET', KEYS[2], identity, nonce .. '|' .. ARGV[3])
redis.call('ZADD', KEYS[1], string.format('%d', now), identity)
-- Every entry is stale once the newest heartbeat is older than the lease duration: the keys
-- of a cluster that stopped disappear by themselves.
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local next_expiry = -1
local oldest = redis.call('ZRANGE', KEYS[1], 0, 1, 'WITHSCORES')
for i = 1, #oldest, 2 do
  if oldest[i] ~= identity then
    next_expiry = math.max(0, tonumber(oldest[i + 1]) + ttl - now)
    break
  end
end
return {'ok', redis.call('ZRANGE', KEYS[1], 0, -1), next_expiry}
