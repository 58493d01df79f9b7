-- Erase customers (a privacy request, or retention): delete every key given, the index entries that
-- still point at them, their place in the customers zset, and the stream entries that name them.
-- KEYS[1] identifier index  KEYS[2] customers zset  KEYS[3] event stream  KEYS[4] chat stream
-- KEYS[5..] keys to delete (profiles, timelines, cases, merge records, contact hashes, transcripts...)
-- ARGV[1] JSON {"customers": [...], "identifiers": [...], "events": [stream ids], "chat": [stream ids]}
local plan = cjson.decode(ARGV[1])
local mine = {}
for _, c in ipairs(plan['customers']) do
  mine[c] = true
  redis.call('ZREM', KEYS[2], c)
end
local idents = 0
for _, ident in ipairs(plan['identifiers']) do
  local owner = redis.call('HGET', KEYS[1], ident)
  if owner and mine[owner] then idents = idents + redis.call('HDEL', KEYS[1], ident) end
end
local keys = 0
for i = 5, #KEYS do keys = keys + redis.call('DEL', KEYS[i]) end
local entries = 0
for _, id in ipairs(plan['events']) do entries = entries + redis.call('XDEL', KEYS[3], id) end
for _, id in ipairs(plan['chat']) do entries = entries + redis.call('XDEL', KEYS[4], id) end
return {'ok', tostring(keys), tostring(idents), tostring(entries)}
