-- Retention: drop a timeline's entries older than the cutoff (entries are appended in time order).
-- KEYS[1] timeline  ARGV[1] cutoff (seconds since the epoch)
local cutoff = tonumber(ARGV[1])
local dropped = 0
while true do
  local head = redis.call('LINDEX', KEYS[1], 0)
  if not head then break end
  if tonumber(cjson.decode(head)['ts']) >= cutoff then break end
  redis.call('LPOP', KEYS[1])
  dropped = dropped + 1
end
return dropped
