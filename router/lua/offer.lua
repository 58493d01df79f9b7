-- Reserve an agent for a waiting contact: the commit of a routing decision.
-- KEYS[1] contact hash  KEYS[2] its queue zset  KEYS[3] agent hash  KEYS[4] agent's contacts set  KEYS[5] event stream
-- KEYS[6] its lane zset (queue, channel, priority and contact skills: first come, first served within it)
-- ARGV[1] contact id  ARGV[2] agent id  ARGV[3] offer id  ARGV[4] now  ARGV[5] expires at
-- ARGV[6] the agent's capacity on the contact's channel  ARGV[7] exclusive channels (csv)
-- ARGV[8] stream maxlen  ARGV[9] queue the decision saw  ARGV[10] states an offer may start from (csv)
-- ARGV[11] ids ahead of it in its lane that the policy passed over on purpose (csv; waiting for a preferred agent)
-- Refusals: not_waiting, moved, agent_not_available, backing_off, no_capacity, out_of_order (+ the ids ahead).
local contact = hgetall(KEYS[1])
if not contact['state'] or not in_csv(ARGV[10], contact['state']) then return err('not_waiting') end
if contact['queue'] ~= ARGV[9] or contact['lane'] ~= KEYS[6] then return err('moved') end
local ahead = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', '(' .. contact['seq'])
local unexpected = {}
for _, id in ipairs(ahead) do
  if not in_csv(ARGV[11], id) then unexpected[#unexpected + 1] = id end
end
if #unexpected > 0 then return {'err', 'out_of_order', table.concat(unexpected, ',')} end
local agent = hgetall(KEYS[3])
if agent['state'] ~= 'available' then return err('agent_not_available') end
local now = tonumber(ARGV[4])
if tonumber(agent['backoff_until'] or '0') > now then return err('backing_off') end
local channel = contact['channel']
local load = tonumber(agent['load:' .. channel] or '0')
if load >= tonumber(ARGV[6]) then return err('no_capacity') end
local total = total_load(agent)
if total > 0 and (in_csv(ARGV[7], channel) or exclusive_load(agent, ARGV[7])) then return err('no_capacity') end
contact['state'] = 'offered'
contact['agent'] = ARGV[2]
contact['offer_id'] = ARGV[3]
contact['offer_expires'] = ARGV[5]
bump(contact)
hset_table(KEYS[1], contact)
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
agent['load:' .. channel] = tostring(load + 1)
bump(agent)
hset_table(KEYS[3], agent)
redis.call('SADD', KEYS[4], ARGV[1])
emit(KEYS[5], ARGV[8], 'contact.offered', ARGV[4], contact, agent, nil)
return ok(contact, agent)
