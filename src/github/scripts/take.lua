-- One take from a credential's shared budget (src/github/shared_budget.rs), on Redis' clock.
-- KEYS[1]: the pacing key, the theoretical arrival time (GCRA) in microseconds.
-- KEYS[2]: the resource's pause key, the end of the pause in microseconds.
-- ARGV[1]: emission interval in microseconds (0: no pacing); ARGV[2]: burst, in requests.
-- Returns {0, 0}: go now; {1, ms}: paused for ms more, nothing taken; {2, ms}: a slot is
-- reserved ms from now (the caller sends then).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if paused > now then
  return {1, math.ceil((paused - now) / 1000)}
end
local interval = tonumber(ARGV[1])
if interval <= 0 then
  return {0, 0}
end
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then
  tat = now
end
local next_tat = tat + interval
-- The earliest instant this request may go: burst requests fit within burst intervals.
local at = next_tat - burst * interval
local ttl = math.ceil((next_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', ttl)
if at <= now then
  return {0, 0}
end
return {2, math.ceil((at - now) / 1000)}
