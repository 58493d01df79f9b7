-- Shared helpers, prepended to every customers script by customers.store when it loads them.
-- Conventions: every key arrives in KEYS (under or:{tenant}:cust:, one hash tag); "now" arrives in ARGV.
-- Scripts answer {"ok", ...} or {"err", code, detail}.

local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function is_live(profile_key)
  -- 'not_found' when the profile is gone, 'merged' when it was merged into another, nil when usable
  if redis.call('EXISTS', profile_key) == 0 then return 'not_found' end
  local into = redis.call('HGET', profile_key, 'merged_into')
  if into and into ~= '' then return 'merged' end
  return nil
end

local function push(timeline_key, entry, maxlen)
  redis.call('RPUSH', timeline_key, entry)
  redis.call('LTRIM', timeline_key, -tonumber(maxlen), -1)
end

local function touch(profile_key, all_key, cid, now)
  redis.call('HSET', profile_key, 'updated_at', now)
  redis.call('ZADD', all_key, now, cid)
end
