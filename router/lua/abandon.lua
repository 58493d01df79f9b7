-- The customer leaves before being connected (queued or offered): the contact is abandoned.
-- KEYS[1] contact hash  KEYS[2] its queue zset  KEYS[3] agent hash (of the offer, or any key when queued)
-- KEYS[4] agent's contacts set  KEYS[5] event stream  KEYS[6] active-contacts set  KEYS[7] today's service-level counters
-- KEYS[8] its lane zset
-- ARGV[1] contact id  ARGV[2] agent id the caller saw ('' when queued)  ARGV[3] now  ARGV[4] reason
-- ARGV[5] stream maxlen  ARGV[6] states an abandon may start from (csv)  ARGV[7] the queue's service-level target (s)
-- Refusals: not_waiting, retry (the contact was offered to another agent since the caller looked).
local contact = hgetall(KEYS[1])
if not contact['state'] or not in_csv(ARGV[6], contact['state']) then return err('not_waiting') end
if contact['agent'] ~= ARGV[2] or contact['lane'] ~= KEYS[8] then return err('retry') end
local agent = nil
if contact['state'] == 'offered' then
  agent = hgetall(KEYS[3])
  release(KEYS[3], KEYS[4], agent, contact, nil)
end
contact['state'] = 'abandoned'
contact['agent'] = ''
contact['abandoned_at'] = ARGV[3]
bump(contact)
hset_table(KEYS[1], contact)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[8], ARGV[1])
redis.call('SREM', KEYS[6], ARGV[1])
redis.call('EXPIRE', KEYS[1], TERMINAL_TTL)
local waited = tonumber(ARGV[3]) - tonumber(contact['enqueued_at'])
count_wait(KEYS[7], contact['queue'], 'abandoned', waited, tonumber(ARGV[7]))
emit(KEYS[5], ARGV[5], 'contact.abandoned', ARGV[3], contact, agent, {reason = ARGV[4], waited = waited})
return ok(contact, agent)
