-- Reads the store's state for a refreshing replica, after expiring orgs past retention.
--
-- Expiry is O(expired orgs): the expiry zset holds each org's deadline. Removing an org drops
-- its pointer, subtracts its series from the budget total and bumps the version, so every
-- replica's next refresh drops its series. Chunks expire on their own TTL.
--
-- When the incarnation and version equal what the caller already has, only those two are
-- returned (the cheap, common case). Otherwise the org pointers and shared counters follow.
--
-- KEYS: 1 version, 2 orgs hash, 3 expiry zset, 4 total, 5 counters hash, 6 incarnation.
-- ARGV: 1 known incarnation, 2 known version, 3 proposed incarnation token.
-- Returns {incarnation, version} or {incarnation, version, orgs (flat), counters (flat)}.

redis.call('SET', KEYS[6], ARGV[3], 'NX')
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
if #expired > 0 then
  local removed = 0
  for _, org in ipairs(expired) do
    local pointer = redis.call('HGET', KEYS[2], org)
    if pointer then
      removed = removed + tonumber(string.match(pointer, '^%d+:%d+:(%d+):'))
      redis.call('HDEL', KEYS[2], org)
    end
    redis.call('ZREM', KEYS[3], org)
  end
  redis.call('DECRBY', KEYS[4], removed)
  redis.call('INCR', KEYS[1])
end

local incarnation = redis.call('GET', KEYS[6])
local version = redis.call('GET', KEYS[1]) or '0'
if incarnation == ARGV[1] and version == ARGV[2] then
  return {incarnation, version}
end
return {incarnation, version, redis.call('HGETALL', KEYS[2]), redis.call('HGETALL', KEYS[5])}
