-- One chat message on a contact, from its customer, its agent or the system: appended to the contact's
-- transcript and to the tenant's chat stream, from which every gateway process delivers it.
-- KEYS[1] contact hash  KEYS[2] transcript list  KEYS[3] chat stream
-- ARGV[1] contact id  ARGV[2] sender kind (customer, agent, system)  ARGV[3] sender agent id ('' otherwise)
-- ARGV[4] text  ARGV[5] now  ARGV[6] stream maxlen  ARGV[7] transcript retention (s)
-- Returns {'ok', message_json, agent holding the contact, connector, address, customer, channel} or
-- {'err', code}:
-- not_found, forbidden (an agent who doesn't hold the contact), illegal_state (the conversation is over).
local contact = hgetall(KEYS[1])
if not contact['id'] then return err('not_found') end
local kind = ARGV[2]
local state = contact['state']
if kind == 'agent' then
  if contact['agent'] ~= ARGV[3] then return err('forbidden') end
  if state ~= 'connected' then return err('illegal_state') end
elseif kind == 'customer' then
  if state ~= 'queued' and state ~= 'offered' and state ~= 'connected' then return err('illegal_state') end
end
local connector, address = '', ''
if contact['attrs'] and contact['attrs'] ~= '' then
  local ok, attrs = pcall(cjson.decode, contact['attrs'])
  if ok and type(attrs) == 'table' then
    connector = attrs['connector'] or ''
    address = attrs['address'] or ''
  end
end
local seq = redis.call('RPUSH', KEYS[2], '')
local message = cjson.encode({seq = seq, from = kind, agent = ARGV[3], text = ARGV[4], at = tonumber(ARGV[5])})
redis.call('LSET', KEYS[2], -1, message)
redis.call('HSET', KEYS[1], 'messages', seq)  -- the offer skips reading a transcript when this is 0
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[7]))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'contact', ARGV[1], 'message', message,
           'holder', contact['agent'] or '', 'connector', connector, 'address', address,
           'channel', contact['channel'] or '')
return {'ok', message, contact['agent'] or '', connector, address, contact['customer'] or '', contact['channel'] or ''}
