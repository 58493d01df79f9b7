-- Attach a contact's identifiers to a customer: the one the caller found in the index ("existing"), or a
-- new profile ("new"). The caller looked the index up first; if it changed since, the answer is "retry".
-- KEYS[1] identifier index (hash "kind:value" -> customer)  KEYS[2] customers zset (last activity)
-- KEYS[3] profile hash  KEYS[4] profile's identifiers set  KEYS[5] profile's contacts set
-- KEYS[6] contact -> customer string (or any key, untouched, when ARGV[4] is empty)
-- ARGV[1] customer id  ARGV[2] "new" or "existing"  ARGV[3] now  ARGV[4] contact id or ""
-- ARGV[5] retention seconds (for the contact map)  ARGV[6..] identifiers "kind:value"
local cid, mode, now = ARGV[1], ARGV[2], ARGV[3]
if mode == 'existing' then
  if is_live(KEYS[3]) then return {'retry'} end
  local still = false
  for i = 6, #ARGV do
    if redis.call('HGET', KEYS[1], ARGV[i]) == cid then still = true end
  end
  if not still then return {'retry'} end
else
  if redis.call('EXISTS', KEYS[3]) == 1 then return {'retry'} end
  for i = 6, #ARGV do
    if redis.call('HGET', KEYS[1], ARGV[i]) then return {'retry'} end
  end
  redis.call('HSET', KEYS[3], 'id', cid, 'created_at', now)
end
local added = 0
for i = 6, #ARGV do
  if not redis.call('HGET', KEYS[1], ARGV[i]) then
    redis.call('HSET', KEYS[1], ARGV[i], cid)
    redis.call('SADD', KEYS[4], ARGV[i])
    added = added + 1
  end
end
touch(KEYS[3], KEYS[2], cid, now)
if ARGV[4] ~= '' then
  redis.call('SADD', KEYS[5], ARGV[4])
  redis.call('SET', KEYS[6], cid, 'EX', ARGV[5])
end
return {'ok', cid, mode, tostring(added)}
