-- A connector's sender has no open conversation: claim the key for a new contact, unless another
-- process claimed it first (then that one's contact is returned and the message joins it).
-- KEYS[1] conversation key (channel + hashed sender)
-- ARGV[1] the contact id the caller found there ('' when none)  ARGV[2] the new contact id  ARGV[3] ttl (s)
-- Returns {'new', id} or {'existing', id}.
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] and current ~= '' then return {'existing', current} end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return {'new', ARGV[2]}
