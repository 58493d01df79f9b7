-- Merge profile "other" into "into": other's identifiers now find "into"; other's profile, timeline and
-- identifiers set stay as they are (marked merged_into), so the merge can be undone exactly.
-- KEYS[1] identifier index  KEYS[2] merge record hash  KEYS[3] into profile  KEYS[4] other profile
-- KEYS[5] into identifiers  KEYS[6] other identifiers  KEYS[7] into merged-in set  KEYS[8] into timeline
-- KEYS[9] other timeline  KEYS[10] into merges set  KEYS[11] other merges set  KEYS[12] customers zset
-- ARGV[1] merge id  ARGV[2] into id  ARGV[3] other id  ARGV[4] now  ARGV[5] by (agent or supervisor)
-- ARGV[6] entry for into's timeline  ARGV[7] entry for other's timeline  ARGV[8] timeline max length
-- Refusals: same, not_found (detail: which), merged (detail: which), exists (merge id taken).
if ARGV[2] == ARGV[3] then return {'err', 'same', ARGV[2]} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {'err', 'exists', ARGV[1]} end
for i, k in ipairs({KEYS[3], KEYS[4]}) do
  local bad = is_live(k)
  if bad then return {'err', bad, ARGV[1 + i]} end
end
local moved = {}
for _, ident in ipairs(redis.call('SMEMBERS', KEYS[6])) do
  if redis.call('HGET', KEYS[1], ident) == ARGV[3] then
    redis.call('HSET', KEYS[1], ident, ARGV[2])
    redis.call('SADD', KEYS[5], ident)
    moved[#moved + 1] = ident
  end
end
redis.call('HSET', KEYS[2], 'id', ARGV[1], 'into', ARGV[2], 'other', ARGV[3], 'at', ARGV[4], 'by', ARGV[5],
           'moved', table.concat(moved, '\n'))
redis.call('HSET', KEYS[4], 'merged_into', ARGV[2], 'merged_at', ARGV[4])
redis.call('SADD', KEYS[7], ARGV[3])
redis.call('SADD', KEYS[10], ARGV[1])
redis.call('SADD', KEYS[11], ARGV[1])
push(KEYS[8], ARGV[6], ARGV[8])
push(KEYS[9], ARGV[7], ARGV[8])
touch(KEYS[3], KEYS[12], ARGV[2], ARGV[4])
return {'ok', ARGV[1], tostring(#moved)}
