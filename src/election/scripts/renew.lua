-- Extends every lease that still holds our value, in one call.
-- KEYS[i] lease keys; ARGV[1] lease duration (ms), ARGV[1 + i] expected value of KEYS[i]
-- Returns {r1, ..., rn}: 1 extended (still ours), 0 expired or held by someone else.
local result = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
    result[i] = 1
  else
    result[i] = 0
  end
end
return result
