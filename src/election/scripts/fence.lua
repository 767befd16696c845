-- Writes (or extends) the fence of a tenure decided elsewhere (a Kubernetes Lease): the key the
-- store's scripts compare with a writer's grant. Only moves forward: a tenure with a lower epoch
-- than the fence in place, or the same epoch with another value, is refused.
-- KEYS[1] fence key; ARGV[1] epoch, ARGV[2] value (`epoch|token|identity`), ARGV[3] ttl (ms)
-- Returns {1, epoch} written, or {0, epoch of the fence in place} refused.
local current = redis.call('GET', KEYS[1])
local epoch = tonumber(ARGV[1])
if current and current ~= ARGV[2] then
  local held = tonumber(string.match(current, '^(%d+)|')) or 0
  if held >= epoch then
    return {0, held}
  end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return {1, epoch}
