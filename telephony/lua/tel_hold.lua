-- The contacts a worker's callers belong to, so the pool can end them if the worker dies.
-- KEYS[1] worker's contacts set
-- ARGV[1] add|drop  ARGV[2] contact id  ARGV[3] TTL (seconds; bounds a set nobody cleans)
if ARGV[1] == 'add' then
  redis.call('SADD', KEYS[1], ARGV[2])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
else
  redis.call('SREM', KEYS[1], ARGV[2])
end
return {'ok'}
