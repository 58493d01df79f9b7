-- One worker claims the dialling of an accepted callback contact (the others see it taken).
-- KEYS[1] claim key
-- ARGV[1] worker id  ARGV[2] TTL (seconds)
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', tonumber(ARGV[2])) then return 1 end
return 0
