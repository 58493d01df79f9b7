-- Wrap-up ends (its time is up, or the agent says it is done): the contact is done and the agent's
-- capacity comes back.
-- KEYS[1] contact hash  KEYS[2] agent hash  KEYS[3] agent's contacts set  KEYS[4] event stream  KEYS[5] active-contacts set
-- ARGV[1] contact id  ARGV[2] agent id  ARGV[3] now  ARGV[4] "1" when the agent ends it early  ARGV[5] stream maxlen
-- Refusals: not_in_wrapup, not_due.
local contact = hgetall(KEYS[1])
if contact['state'] ~= 'wrapup' or contact['agent'] ~= ARGV[2] then return err('not_in_wrapup') end
if ARGV[4] ~= '1' and tonumber(contact['wrapup_until']) > tonumber(ARGV[3]) then return err('not_due') end
contact['state'] = 'done'
bump(contact)
hset_table(KEYS[1], contact)
redis.call('EXPIRE', KEYS[1], TERMINAL_TTL)
redis.call('SREM', KEYS[5], ARGV[1])
local agent = hgetall(KEYS[2])
release(KEYS[2], KEYS[3], agent, contact, ARGV[3])
emit(KEYS[4], ARGV[5], 'contact.done', ARGV[3], contact, agent, nil)
return ok(contact, agent)
