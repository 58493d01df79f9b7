-- Put a new contact in line.
-- KEYS[1] contact hash   KEYS[2] queue zset   KEYS[3] sequence counter   KEYS[4] event stream
-- KEYS[5] active-contacts set   KEYS[6] the customer's last-agent hash   KEYS[7] the contact's lane zset
-- ARGV[1] contact id  ARGV[2] queue  ARGV[3] channel  ARGV[4] priority  ARGV[5] now  ARGV[6] customer
-- ARGV[7] contact skills (encoded)  ARGV[8] attributes (JSON)  ARGV[9] last-agent window (s)  ARGV[10] stream maxlen
-- Returns ok with the contact, or {"dup", contact} when the id exists already (enqueue is idempotent).
-- ``messages`` counts the messages of its conversation (chat_message.lua), so that readers of a snapshot
-- with none skip reading the transcript; a contact without the field (made before it) may have some.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'dup', cjson.encode(hgetall(KEYS[1])), ''}
end
local now = ARGV[5]
local seq = redis.call('INCR', KEYS[3])
local contact = {
  id = ARGV[1], queue = ARGV[2], channel = ARGV[3], priority = ARGV[4], enqueued_at = now,
  queued_at = now, seq = tostring(seq), state = 'queued', customer = ARGV[6], skills = ARGV[7],
  attrs = ARGV[8], agent = '', offer_id = '', offer_expires = '0', wrapup_until = '0',
  preferred_agent = '', preferred_until = '0', ver = '1', lane = KEYS[7], messages = '0',
}
local window = tonumber(ARGV[9])
if ARGV[6] ~= '' and window > 0 then
  local last = redis.call('HGET', KEYS[6], 'agent')
  if last then
    contact['preferred_agent'] = last
    contact['preferred_until'] = tostring(tonumber(now) + window)
  end
end
hset_table(KEYS[1], contact)
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('ZADD', KEYS[7], seq, ARGV[1])
redis.call('SADD', KEYS[5], ARGV[1])
emit(KEYS[4], ARGV[10], 'contact.arrived', now, contact, nil, nil)
return ok(contact, nil)
