-- A disconnected agent's grace period is over: end its session (the caller then sets it offline).
-- Only one process wins: the session must still be disconnected since the time the caller saw.
-- KEYS[1] session hash  KEYS[2] set of agents with a session
-- ARGV[1] agent id  ARGV[2] disconnected_at the caller saw
-- Returns 1 when this call ended the session, 0 otherwise.
local s = hgetall(KEYS[1])
if s['connected'] ~= '0' or s['disconnected_at'] ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
return 1
