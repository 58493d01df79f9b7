-- A call's detail record: its legs' RTP packet counts and how it ended (read by reports and tests).
-- KEYS[1] call hash
-- ARGV[1] TTL (seconds)  ARGV[2..] field, value pairs
local args = {}
for i = 2, #ARGV do args[#args + 1] = ARGV[i] end
if #args > 0 then redis.call('HSET', KEYS[1], unpack(args)) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return {'ok'}
