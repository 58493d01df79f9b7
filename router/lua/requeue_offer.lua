-- An offer ends without an answer: rejected, expired or revoked. The contact goes back in line in its
-- original place (same sequence number and enqueue time); the agent backs off.
-- KEYS[1] contact hash  KEYS[2] its queue zset  KEYS[3] agent hash  KEYS[4] agent's contacts set  KEYS[5] event stream
-- KEYS[6] its lane zset
-- ARGV[1] contact id  ARGV[2] agent id  ARGV[3] offer id  ARGV[4] now  ARGV[5] kind: reject|expire|revoke
-- ARGV[6] back-off seconds  ARGV[7] missed offers that set the agent away  ARGV[8] stream maxlen
-- Refusals: no_such_offer, not_expired.
local contact = hgetall(KEYS[1])
if contact['state'] ~= 'offered' or contact['offer_id'] ~= ARGV[3] or contact['agent'] ~= ARGV[2] then
  return err('no_such_offer')
end
if contact['lane'] ~= KEYS[6] then return err('moved') end
local now = tonumber(ARGV[4])
local kind = ARGV[5]
if kind == 'expire' and tonumber(contact['offer_expires']) > now then return err('not_expired') end
back_in_line(contact, KEYS[2], KEYS[6])
bump(contact)
hset_table(KEYS[1], contact)
local agent = hgetall(KEYS[3])
local backoff = now + tonumber(ARGV[6])
if backoff > tonumber(agent['backoff_until'] or '0') then agent['backoff_until'] = tostring(backoff) end
local went_away = false
if kind == 'expire' then
  agent['missed'] = tostring(tonumber(agent['missed'] or '0') + 1)
  if tonumber(agent['missed']) >= tonumber(ARGV[7]) and agent['state'] == 'available' then
    agent['state'] = 'away'
    agent['reason'] = 'missed_offers'
    went_away = true
  end
elseif kind == 'reject' then
  agent['missed'] = '0'
end
local names = {reject = 'contact.rejected', expire = 'contact.offer_expired', revoke = 'contact.offer_revoked'}
release(KEYS[3], KEYS[4], agent, contact, nil)
emit(KEYS[5], ARGV[8], names[kind], ARGV[4], contact, agent, {offer_id = ARGV[3]})
if went_away then
  emit(KEYS[5], ARGV[8], 'agent.state_changed', ARGV[4], nil, agent, nil)
end
return ok(contact, agent)
