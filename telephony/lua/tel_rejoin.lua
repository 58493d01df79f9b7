-- A customer who hung up while queued calls again within the rejoin window: the new call is a new contact
-- in the old one's place (same queue, lane, sequence number and enqueue time): behind those who were
-- waiting before it, ahead of those who came after. The abandoned contact stays abandoned; the note is
-- used up.
-- KEYS[1] the customer's rejoin key  KEYS[2] the abandoned contact's hash  KEYS[3] the new contact's hash
-- KEYS[4] its queue zset  KEYS[5] its lane zset  KEYS[6] active-contacts set  KEYS[7] event stream
-- ARGV[1] abandoned contact id  ARGV[2] new contact id  ARGV[3] now  ARGV[4] window (seconds)
-- ARGV[5] stream maxlen  ARGV[6] attributes to set on the new contact (JSON object: worker, caller ID, ...)
-- Refusals: no_place (no note, or a note for another contact), expired, not_abandoned, moved (the lane given
-- is not the contact's), dup (the new id exists).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return err('no_place') end
local old = hgetall(KEYS[2])
if old['state'] ~= 'abandoned' then return err('not_abandoned') end
if tonumber(ARGV[3]) - tonumber(old['abandoned_at'] or '0') > tonumber(ARGV[4]) then
  redis.call('DEL', KEYS[1])
  return err('expired')
end
if old['lane'] ~= KEYS[5] then return err('moved') end
if redis.call('EXISTS', KEYS[3]) == 1 then return err('dup') end
local attrs = {}
if old['attrs'] and old['attrs'] ~= '' then
  local okd, decoded = pcall(cjson.decode, old['attrs'])
  if okd and type(decoded) == 'table' then attrs = decoded end
end
local okn, given = pcall(cjson.decode, ARGV[6])
if okn and type(given) == 'table' then
  for k, v in pairs(given) do attrs[k] = v end
end
attrs['rejoined'] = ARGV[1]
local contact = old
contact['id'] = ARGV[2]
contact['state'] = 'queued'
contact['agent'] = ''
contact['offer_id'] = ''
contact['offer_expires'] = '0'
contact['wrapup_until'] = '0'
contact['abandoned_at'] = nil
contact['attrs'] = cjson.encode(attrs)
contact['ver'] = '1'
hset_table(KEYS[3], contact)
redis.call('ZADD', KEYS[4], tonumber(contact['seq']), ARGV[2])
redis.call('ZADD', KEYS[5], tonumber(contact['seq']), ARGV[2])
redis.call('SADD', KEYS[6], ARGV[2])
redis.call('DEL', KEYS[1])
emit(KEYS[7], ARGV[5], 'contact.arrived', ARGV[3], contact, nil, {rejoined = ARGV[1]})
return ok(contact, nil)
