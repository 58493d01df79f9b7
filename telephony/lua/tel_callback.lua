-- A queued caller asked to be called back: the contact keeps its place in line (same enqueue time and
-- sequence) and carries the number to ring; the worker then hangs up without abandoning it.
-- KEYS[1] contact hash  KEYS[2] event stream
-- ARGV[1] number to call back  ARGV[2] now  ARGV[3] stream maxlen
-- Returns {'ok', contact_json, ''} or {'err', 'not_waiting'}.
local contact = hgetall(KEYS[1])
if contact['state'] ~= 'queued' then return err('not_waiting') end
local attrs = {}
if contact['attrs'] and contact['attrs'] ~= '' then
  local ok, decoded = pcall(cjson.decode, contact['attrs'])
  if ok and type(decoded) == 'table' then attrs = decoded end
end
attrs['callback'] = ARGV[1]
attrs['callback_requested_at'] = tonumber(ARGV[2])
contact['attrs'] = cjson.encode(attrs)
bump(contact)
redis.call('HSET', KEYS[1], 'attrs', contact['attrs'], 'ver', contact['ver'])
emit(KEYS[2], ARGV[3], 'contact.callback_requested', ARGV[2], contact, nil, nil)
return ok(contact, nil)
