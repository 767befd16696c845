-- Deletes every lease that still holds our value and tells waiting candidates.
-- KEYS[i] lease keys; ARGV[1] events channel, ARGV[1 + i] expected value of KEYS[i]
-- Returns the number of leases released.
local released = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('DEL', key)
    redis.call('PUBLISH', ARGV[1], 'released ' .. key)
    released = released + 1
  end
end
return released
