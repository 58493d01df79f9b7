-- Link one more identifier to a customer (an agent or supervisor says it is theirs).
-- KEYS[1] identifier index  KEYS[2] profile  KEYS[3] profile's identifiers  KEYS[4] timeline
-- KEYS[5] customers zset
-- ARGV[1] customer id  ARGV[2] identifier "kind:value"  ARGV[3] now  ARGV[4] timeline entry (JSON)
-- ARGV[5] timeline max length
-- Refusals: not_found, merged (the profile was merged into another), taken (detail: the owner).
local bad = is_live(KEYS[2])
if bad then return {'err', bad, ''} end
local owner = redis.call('HGET', KEYS[1], ARGV[2])
if owner == ARGV[1] then return {'ok', 'already'} end
if owner then return {'err', 'taken', owner} end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
push(KEYS[4], ARGV[4], ARGV[5])
touch(KEYS[2], KEYS[5], ARGV[1], ARGV[3])
return {'ok', 'linked'}
