-- The agent accepted but its phone did not answer: the contact goes back in line in its original place
-- (same sequence number and enqueue time) and the agent goes away with reason no_answer.
-- KEYS[1] contact hash  KEYS[2] its queue zset  KEYS[3] agent hash  KEYS[4] agent's contacts set
-- KEYS[5] event stream  KEYS[6] its lane zset
-- ARGV[1] contact id  ARGV[2] agent id  ARGV[3] now  ARGV[4] stream maxlen  ARGV[5] states a requeue may start from (csv)
-- Refusals: not_connected (not connected, or to another agent), moved.
local contact = hgetall(KEYS[1])
if not contact['state'] or not in_csv(ARGV[5], contact['state']) or contact['agent'] ~= ARGV[2] then
  return err('not_connected')
end
if contact['lane'] ~= KEYS[6] then return err('moved') end
back_in_line(contact, KEYS[2], KEYS[6])
bump(contact)
hset_table(KEYS[1], contact)
local agent = hgetall(KEYS[3])
release(KEYS[3], KEYS[4], agent, contact, nil)
local went_away = agent['state'] == 'available'
if went_away then
  agent['state'] = 'away'
  agent['reason'] = 'no_answer'
  bump(agent)
  hset_table(KEYS[3], agent)
end
emit(KEYS[5], ARGV[4], 'contact.requeued', ARGV[3], contact, agent, {reason = 'no_answer'})
if went_away then
  emit(KEYS[5], ARGV[4], 'agent.state_changed', ARGV[3], nil, agent, {from_state = 'available'})
end
return ok(contact, agent)
