-- Shared helpers, prepended to every script by router.store when it loads them.
-- Conventions: every key arrives in KEYS (hash-tagged per tenant); "now" arrives in ARGV as seconds.
-- A script returns {"ok", contact_json, agent_json} or {"err", code}.

local function hgetall(key)
  local flat = redis.call('HGETALL', key)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

local function hset_table(key, t)
  local args = {}
  for k, v in pairs(t) do
    args[#args + 1] = k
    args[#args + 1] = tostring(v)
  end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end

local function in_csv(csv, value)
  for item in string.gmatch(csv, '[^,]+') do
    if item == value then return true end
  end
  return false
end

-- Agent load: fields "load:<channel>" in the agent hash.
local function total_load(agent)
  local total = 0
  for k, v in pairs(agent) do
    if string.sub(k, 1, 5) == 'load:' then total = total + tonumber(v) end
  end
  return total
end

local function exclusive_load(agent, exclusive_csv)
  for ch in string.gmatch(exclusive_csv, '[^,]+') do
    if tonumber(agent['load:' .. ch] or '0') > 0 then return true end
  end
  return false
end

local function bump(t)
  t['ver'] = tostring(tonumber(t['ver'] or '0') + 1)
end

-- Back in line in its original place (same sequence number, so same enqueue order): queued, no agent,
-- no offer. The caller bumps, stores and emits.
local function back_in_line(contact, queue_key, lane_key)
  contact['state'] = 'queued'
  contact['agent'] = ''
  contact['offer_id'] = ''
  contact['offer_expires'] = '0'
  redis.call('ZADD', queue_key, tonumber(contact['seq']), contact['id'])
  redis.call('ZADD', lane_key, tonumber(contact['seq']), contact['id'])
end

-- Give one unit of capacity on the contact's channel back to the agent.
-- With ``now`` the agent's idle time restarts when it holds nothing more; pass nil to leave it.
local function release(agent_key, agent_contacts_key, agent, contact, now)
  local field = 'load:' .. contact['channel']
  local left = tonumber(agent[field] or '0') - 1
  if left < 0 then left = 0 end
  agent[field] = tostring(left)
  redis.call('SREM', agent_contacts_key, contact['id'])
  if now and total_load(agent) == 0 then agent['idle_since'] = now end
  bump(agent)
  hset_table(agent_key, agent)
end

-- Each entry names the contact and agent with their versions (cid, cv, aid, av) beside their JSON
-- snapshots, so a reader that already holds that version skips the JSON.
local function emit(stream, maxlen, etype, now, contact, agent, extra)
  local args = {'XADD', stream, 'MAXLEN', '~', maxlen, '*', 'type', etype, 'at', now,
                'contact', contact and cjson.encode(contact) or '', 'agent', agent and cjson.encode(agent) or '',
                'cid', contact and contact['id'] or '', 'cv', contact and contact['ver'] or '0',
                'aid', agent and agent['id'] or '', 'av', agent and agent['ver'] or '0'}
  if extra then
    for k, v in pairs(extra) do
      args[#args + 1] = k
      args[#args + 1] = tostring(v)
    end
  end
  redis.call(unpack(args))
end

local function ok(contact, agent)
  return {'ok', contact and cjson.encode(contact) or '', agent and cjson.encode(agent) or ''}
end

local function err(code)
  return {'err', code}
end

-- Daily service-level counters per queue: "<queue>|answered", "<queue>|answered_within", "<queue>|wait_sum", ...
local function count_wait(stats_key, queue, outcome, waited, target)
  redis.call('HINCRBY', stats_key, queue .. '|' .. outcome, 1)
  if waited <= target then redis.call('HINCRBY', stats_key, queue .. '|' .. outcome .. '_within', 1) end
  redis.call('HINCRBYFLOAT', stats_key, queue .. '|' .. outcome .. '_wait_sum', waited)
  redis.call('EXPIRE', stats_key, 8 * 86400)
end

local TERMINAL_TTL = 86400  -- seconds a finished contact's hash is kept for look-ups
