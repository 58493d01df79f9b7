-- A caller hung up while queued (the contact is abandoned): remember the contact under its customer for
-- the rejoin window, so a call back from the same customer within it takes the place again (tel_rejoin).
-- KEYS[1] the customer's rejoin key  KEYS[2] the abandoned contact's hash
-- ARGV[1] contact id  ARGV[2] window (seconds)
-- Refusals: not_abandoned.
if redis.call('HGET', KEYS[2], 'state') ~= 'abandoned' then return err('not_abandoned') end
local ttl = math.ceil(tonumber(ARGV[2]))
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
return {'ok', ARGV[1], ''}
