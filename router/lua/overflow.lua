-- A contact has waited its queue's max wait: it moves to the overflow queue keeping its place in line
-- (sequence number and enqueue time), or, with no overflow queue, ends as overflowed.
-- KEYS[1] contact hash  KEYS[2] current queue zset  KEYS[3] target queue zset (any key when ending)
-- KEYS[4] active-contacts set  KEYS[5] event stream  KEYS[6] current lane zset  KEYS[7] target lane zset (any key when ending)
-- ARGV[1] contact id  ARGV[2] current queue  ARGV[3] target queue ('' to end)  ARGV[4] now
-- ARGV[5] max wait seconds  ARGV[6] stream maxlen
-- Refusals: not_waiting, moved, not_due.
local contact = hgetall(KEYS[1])
if contact['state'] ~= 'queued' then return err('not_waiting') end
if contact['queue'] ~= ARGV[2] then return err('moved') end
if tonumber(contact['queued_at']) + tonumber(ARGV[5]) > tonumber(ARGV[4]) then return err('not_due') end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
if ARGV[3] ~= '' then
  contact['queue'] = ARGV[3]
  contact['queued_at'] = ARGV[4]
  contact['lane'] = KEYS[7]
  redis.call('ZADD', KEYS[3], tonumber(contact['seq']), ARGV[1])
  redis.call('ZADD', KEYS[7], tonumber(contact['seq']), ARGV[1])
else
  contact['state'] = 'overflowed'
  redis.call('SREM', KEYS[4], ARGV[1])
  redis.call('EXPIRE', KEYS[1], TERMINAL_TTL)
end
bump(contact)
hset_table(KEYS[1], contact)
emit(KEYS[5], ARGV[6], 'contact.overflowed', ARGV[4], contact, nil, {from_queue = ARGV[2]})
return ok(contact, nil)
