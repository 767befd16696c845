-- Pauses a credential's resource for every replica (src/github/shared_budget.rs), on Redis'
-- clock; a pause that ends later already in place is kept.
-- KEYS[1]: the resource's pause key (end of the pause, microseconds).
-- ARGV[1]: the pause in milliseconds.
-- Returns 1 when the pause was extended, 0 when a longer one stood.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ms = tonumber(ARGV[1])
local until_us = now + ms * 1000
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if current >= until_us then
  return 0
end
redis.call('SET', KEYS[1], string.format('%.0f', until_us), 'PX', ms + 1000)
return 1
