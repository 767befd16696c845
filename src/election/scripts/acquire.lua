-- Takes a lease if nobody holds it (never by force).
-- KEYS[1] lease key, KEYS[2] epoch counter (lease-seq)
-- ARGV[1] token (128 random bits, hex), ARGV[2] identity, ARGV[3] lease duration (ms)
-- Returns {'held', value, pttl_ms} or {'ok', epoch, value}.
local current = redis.call('GET', KEYS[1])
if current then
  return {'held', current, redis.call('PTTL', KEYS[1])}
end
local epoch = redis.call('INCR', KEYS[2])
local value = string.format('%d', epoch) .. '|' .. ARGV[1] .. '|' .. ARGV[2]
redis.call('SET', KEYS[1], value, 'PX', ARGV[3])
return {'ok', epoch, value}
