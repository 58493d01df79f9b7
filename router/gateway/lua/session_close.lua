-- An agent's connection is gone (closed, or its gateway process died): its grace period starts.
-- Does nothing when the session has moved to another process or connection meanwhile.
-- KEYS[1] session hash
-- ARGV[1] gateway process id that held it  ARGV[2] connection start it had ('since')  ARGV[3] now
-- ARGV[4] state to resume on reconnect  ARGV[5] its reason
-- Returns 1 when this call closed the session, 0 otherwise.
local s = hgetall(KEYS[1])
if s['gw'] ~= ARGV[1] or s['connected'] ~= '1' then return 0 end
if ARGV[2] ~= '' and s['since'] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'connected', '0', 'disconnected_at', ARGV[3], 'resume', ARGV[4], 'resume_reason', ARGV[5])
return 1
