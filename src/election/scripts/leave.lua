-- Removes a member, if this process is the one that announced it, and tells the others.
-- KEYS[1] members, KEYS[2] members:info
-- ARGV[1] identity, ARGV[2] nonce of this process, ARGV[3] events channel
-- Returns 1 left, 0 the identity belongs to another live process (nothing changed).
local identity, nonce = ARGV[1], ARGV[2]
local info = redis.call('HGET', KEYS[2], identity)
if info then
  local sep = string.find(info, '|', 1, true)
  local owner = sep and string.sub(info, 1, sep - 1) or info
  if owner ~= nonce then
    return 0
  end
  redis.call('HDEL', KEYS[2], identity)
end
redis.call('ZREM', KEYS[1], identity)
redis.call('PUBLISH', ARGV[3], 'left ' .. identity)
return 1
