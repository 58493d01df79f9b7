-- The agent finishes a connected contact: it goes to wrap-up (or straight to done with no wrap-up time),
-- and the customer's last agent is remembered for last-agent preference.
-- KEYS[1] contact hash  KEYS[2] agent hash  KEYS[3] agent's contacts set  KEYS[4] event stream
-- KEYS[5] active-contacts set  KEYS[6] the customer's last-agent hash
-- ARGV[1] contact id  ARGV[2] agent id  ARGV[3] now  ARGV[4] wrap-up seconds  ARGV[5] disposition
-- ARGV[6] note  ARGV[7] stream maxlen  ARGV[8] the SIP URI the call was transferred to ('' for none; it goes in
-- the event as transfer_to, for the telephony worker holding the call and the customer's timeline)
-- ARGV[9], ARGV[10] (optional) the queue and customer the caller built KEYS[6] and the wrap-up time from,
-- when it took them from a cache instead of the contact hash
-- Refusals: not_connected (not connected, or to another agent), retry (ARGV[9], ARGV[10] are not the contact's).
local contact = hgetall(KEYS[1])
if contact['state'] ~= 'connected' or contact['agent'] ~= ARGV[2] then return err('not_connected') end
if ARGV[9] and (contact['queue'] ~= ARGV[9] or (contact['customer'] or '') ~= ARGV[10]) then return err('retry') end
local now = tonumber(ARGV[3])
local extra = {disposition = ARGV[5], note = ARGV[6]}
if ARGV[8] and ARGV[8] ~= '' then extra['transfer_to'] = ARGV[8] end
local wrapup = tonumber(ARGV[4])
contact['completed_at'] = ARGV[3]
contact['disposition'] = ARGV[5]
if contact['customer'] ~= '' then
  redis.call('HSET', KEYS[6], 'agent', ARGV[2], 'at', ARGV[3])
end
local agent = hgetall(KEYS[2])
if wrapup > 0 then
  contact['state'] = 'wrapup'
  contact['wrapup_until'] = tostring(now + wrapup)
  bump(contact)
  hset_table(KEYS[1], contact)
  emit(KEYS[4], ARGV[7], 'contact.completed', ARGV[3], contact, agent, extra)
  return ok(contact, agent)
end
contact['state'] = 'done'
bump(contact)
hset_table(KEYS[1], contact)
redis.call('EXPIRE', KEYS[1], TERMINAL_TTL)
redis.call('SREM', KEYS[5], ARGV[1])
release(KEYS[2], KEYS[3], agent, contact, ARGV[3])
emit(KEYS[4], ARGV[7], 'contact.completed', ARGV[3], contact, agent, extra)
emit(KEYS[4], ARGV[7], 'contact.done', ARGV[3], contact, agent, nil)
return ok(contact, agent)
