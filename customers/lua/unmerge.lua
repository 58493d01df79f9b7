-- Undo a merge: the identifiers it moved (those still on "into") go back to "other", which is a profile
-- of its own again. Merges are undone last first: "into" must not have been merged away since.
-- KEYS[1] identifier index  KEYS[2] merge record  KEYS[3] into profile  KEYS[4] other profile
-- KEYS[5] into identifiers  KEYS[6] into merged-in set  KEYS[7] into timeline  KEYS[8] other timeline
-- KEYS[9] customers zset
-- ARGV[1] merge id  ARGV[2] into id  ARGV[3] other id  ARGV[4] now  ARGV[5] entry for into
-- ARGV[6] entry for other  ARGV[7] timeline max length
-- Refusals: not_found (no such merge), undone (already), into_merged (undo the later merge first),
-- changed (the profiles are no longer as the merge left them).
local rec = hgetall(KEYS[2])
if not rec['id'] then return {'err', 'not_found', ARGV[1]} end
if rec['undone_at'] then return {'err', 'undone', ARGV[1]} end
if rec['into'] ~= ARGV[2] or rec['other'] ~= ARGV[3] then return {'err', 'changed', ARGV[1]} end
local bad = is_live(KEYS[3])
if bad == 'merged' then return {'err', 'into_merged', redis.call('HGET', KEYS[3], 'merged_into')} end
if bad then return {'err', 'changed', ARGV[2]} end
if redis.call('HGET', KEYS[4], 'merged_into') ~= ARGV[2] then return {'err', 'changed', ARGV[3]} end
local back = 0
for ident in string.gmatch(rec['moved'] or '', '[^\n]+') do
  if redis.call('HGET', KEYS[1], ident) == ARGV[2] then
    redis.call('HSET', KEYS[1], ident, ARGV[3])
    redis.call('SREM', KEYS[5], ident)
    back = back + 1
  end
end
redis.call('HDEL', KEYS[4], 'merged_into', 'merged_at')
redis.call('SREM', KEYS[6], ARGV[3])
redis.call('HSET', KEYS[2], 'undone_at', ARGV[4])
push(KEYS[7], ARGV[5], ARGV[7])
push(KEYS[8], ARGV[6], ARGV[7])
touch(KEYS[3], KEYS[9], ARGV[2], ARGV[4])
touch(KEYS[4], KEYS[9], ARGV[3], ARGV[4])
return {'ok', tostring(back)}
