-- Removes fences that still hold our value (a tenure given up); never another tenure's.
-- KEYS[i] fence keys; ARGV[i] expected value of KEYS[i]
-- Returns the number of fences removed.
local removed = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    redis.call('DEL', key)
    removed = removed + 1
  end
end
return removed
