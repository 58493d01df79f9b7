-- An agent accepts an offer.
-- KEYS[1] contact hash  KEYS[2] agent hash  KEYS[3] event stream  KEYS[4] today's service-level counters
-- ARGV[1] contact id  ARGV[2] agent id  ARGV[3] offer id  ARGV[4] now  ARGV[5] stream maxlen
-- ARGV[6] the queue's service-level target (seconds)
-- Refusals: no_such_offer (not offered, another offer, another agent), expired.
local contact = hgetall(KEYS[1])
if contact['state'] ~= 'offered' or contact['offer_id'] ~= ARGV[3] or contact['agent'] ~= ARGV[2] then
  return err('no_such_offer')
end
local now = tonumber(ARGV[4])
if tonumber(contact['offer_expires']) <= now then return err('expired') end
contact['state'] = 'connected'
contact['answered_at'] = ARGV[4]
bump(contact)
hset_table(KEYS[1], contact)
local agent = hgetall(KEYS[2])
agent['missed'] = '0'
bump(agent)
hset_table(KEYS[2], agent)
local waited = now - tonumber(contact['enqueued_at'])
count_wait(KEYS[4], contact['queue'], 'answered', waited, tonumber(ARGV[6]))
emit(KEYS[3], ARGV[5], 'contact.accepted', ARGV[4], contact, agent, {waited = waited})
return ok(contact, agent)
