-- An agent's connection logs in on a gateway process: the session now lives there.
-- KEYS[1] session hash  KEYS[2] set of agents with a session
-- ARGV[1] gateway process id  ARGV[2] now
-- Returns the session as it was ({} when none): gw, connected ('1'/'0'), disconnected_at, resume, resume_reason.
local before = redis.call('HGETALL', KEYS[1])
redis.call('HSET', KEYS[1], 'gw', ARGV[1], 'connected', '1', 'since', ARGV[2], 'disconnected_at', '')
redis.call('SADD', KEYS[2], string.match(KEYS[1], 'session:(.*)$'))
return before
