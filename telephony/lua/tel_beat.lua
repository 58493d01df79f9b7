-- A worker records its free legs (and where it listens), with a TTL: a worker that stops beating vanishes.
-- KEYS[1] worker hash
-- ARGV[1] worker id  ARGV[2] free legs  ARGV[3] legs in use  ARGV[4] SIP port  ARGV[5] pid  ARGV[6] now
-- ARGV[7] TTL (seconds)
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'free', ARGV[2], 'legs', ARGV[3], 'port', ARGV[4], 'pid', ARGV[5],
           'at', ARGV[6])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
return {'ok'}
