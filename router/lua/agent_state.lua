-- An agent changes state: available, away (with a reason) or offline. Going offline gives back
-- everything it holds: offers are revoked and connected contacts requeued, both in their original
-- place; contacts in wrap-up are done. The caller passes the keys of the contacts it saw the agent
-- hold; if the agent's set differs, the script refuses with "retry" and the caller looks again.
-- KEYS[1] agent hash  KEYS[2] agent's contacts set  KEYS[3] event stream  KEYS[4] active-contacts set
-- KEYS[5..] for each held contact: its hash, its queue zset, its lane zset
-- ARGV[1] agent id  ARGV[2] state  ARGV[3] reason  ARGV[4] now  ARGV[5] stream maxlen
-- ARGV[6] number of held contacts passed  ARGV[7..] their ids
-- ARGV[7+n] states the agent may leave for ARGV[2] (csv)
-- Refusals: illegal (the move isn't in the lifecycle table), retry.
local agent = hgetall(KEYS[1])
local from = agent['state'] or 'offline'
local target = ARGV[2]
local n = tonumber(ARGV[6])
if not in_csv(ARGV[7 + n], from) then return err('illegal') end
local now = ARGV[4]
if target == 'offline' then
  local held = redis.call('SMEMBERS', KEYS[2])
  if #held ~= n then return err('retry') end
  local given = {}
  for i = 1, n do given[ARGV[6 + i]] = true end
  for _, id in ipairs(held) do
    if not given[id] then return err('retry') end
  end
  for i = 1, n do
    local ckey = KEYS[2 + 3 * i]
    local qkey = KEYS[3 + 3 * i]
    local lkey = KEYS[4 + 3 * i]
    local contact = hgetall(ckey)
    local etype = nil
    if contact['state'] == 'offered' or contact['state'] == 'connected' then
      etype = contact['state'] == 'offered' and 'contact.offer_revoked' or 'contact.requeued'
      back_in_line(contact, qkey, lkey)
    elseif contact['state'] == 'wrapup' then
      etype = 'contact.done'
      contact['state'] = 'done'
      redis.call('SREM', KEYS[4], contact['id'])
      redis.call('EXPIRE', ckey, TERMINAL_TTL)
    end
    if etype then
      bump(contact)
      hset_table(ckey, contact)
      emit(KEYS[3], ARGV[5], etype, now, contact, nil, {reason = 'agent_offline'})
    end
  end
  redis.call('DEL', KEYS[2])
  for k, _ in pairs(agent) do
    if string.sub(k, 1, 5) == 'load:' then agent[k] = '0' end
  end
end
if target == 'available' and from ~= 'available' then
  agent['idle_since'] = now
  agent['missed'] = '0'
end
agent['id'] = ARGV[1]
agent['state'] = target
agent['reason'] = ARGV[3]
bump(agent)
hset_table(KEYS[1], agent)
emit(KEYS[3], ARGV[5], 'agent.state_changed', now, nil, agent, {from_state = from})
return ok(nil, agent)
