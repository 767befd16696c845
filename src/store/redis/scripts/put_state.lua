-- Writes one scraper state value, fenced by the writer's lease (see state.rs).
--
-- Lands only while the lease key still holds the writer's lease value, atomically with the
-- check. A rejection writes nothing but gh_exporter_store_write_total{result="stale_epoch"} in
-- the counters hash and the data version (so every replica serves the count).
--
-- KEYS: 1 state key, 2 lease key, 3 counters hash, 4 version, 5 incarnation.
-- ARGV: 1 lease value, 2 value (version header + bytes), 3 TTL ms, 4 proposed incarnation token.
-- Returns 1 when written, 0 when rejected.

if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  redis.call('SET', KEYS[5], ARGV[4], 'NX')
  redis.call('HINCRBYFLOAT', KEYS[3], 'gh_exporter_store_write\31result\30stale_epoch', 1)
  redis.call('INCR', KEYS[4])
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
