-- An agent transfers a connected contact to another queue: it goes to the back of that line (a new
-- place, a new wait) keeping its id, customer, attributes and history; the agent's capacity comes back.
-- KEYS[1] contact hash  KEYS[2] target queue zset  KEYS[3] agent hash  KEYS[4] agent's contacts set
-- KEYS[5] event stream  KEYS[6] sequence counter  KEYS[7] target lane zset
-- ARGV[1] contact id  ARGV[2] agent id  ARGV[3] target queue  ARGV[4] now  ARGV[5] stream maxlen
-- ARGV[6] preferred agent ('' for none: a transfer to an agent prefers that agent)  ARGV[7] preferred until
-- Refusals: not_connected.
local contact = hgetall(KEYS[1])
if contact['state'] ~= 'connected' or contact['agent'] ~= ARGV[2] then return err('not_connected') end
local from_queue = contact['queue']
local seq = redis.call('INCR', KEYS[6])
contact['state'] = 'queued'
contact['queue'] = ARGV[3]
contact['agent'] = ''
contact['offer_id'] = ''
contact['seq'] = tostring(seq)
contact['enqueued_at'] = ARGV[4]
contact['queued_at'] = ARGV[4]
contact['preferred_agent'] = ARGV[6]
contact['preferred_until'] = ARGV[7]
contact['lane'] = KEYS[7]
bump(contact)
hset_table(KEYS[1], contact)
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('ZADD', KEYS[7], seq, ARGV[1])
local agent = hgetall(KEYS[3])
release(KEYS[3], KEYS[4], agent, contact, ARGV[4])
emit(KEYS[5], ARGV[5], 'contact.transferred', ARGV[4], contact, agent, {from_queue = from_queue})
return ok(contact, agent)
