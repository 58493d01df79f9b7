-- Append an entry to a customer's timeline and keep their case: a contact.started entry continues the
-- case when the customer returns within the continuity window, else opens a new one.
-- KEYS[1] profile  KEYS[2] timeline  KEYS[3] customers zset  KEYS[4] profile's contacts set
-- KEYS[5] contact -> customer string (any key, untouched, when ARGV[5] is empty)  KEYS[6] case hash
-- ARGV[1] customer id  ARGV[2] now  ARGV[3] entry (JSON)  ARGV[4] timeline max length  ARGV[5] contact id
-- ARGV[6] entry kind  ARGV[7] continuity window seconds  ARGV[8] id for a new case  ARGV[9] channel
-- ARGV[10] queue  ARGV[11] skills  ARGV[12] agent  ARGV[13] retention seconds (contact map)
-- ARGV[14] source position "<ms>-<seq>-<n>" (an event stream id and the entry's index) or "": an entry
-- whose position is not after the profile's last one was applied already, and is skipped ("dup").
-- Refusals: not_found, merged.
local bad = is_live(KEYS[1])
if bad then return {'err', bad, ''} end
if ARGV[14] ~= '' then
  local function parts(p)
    local t = {}
    for n in string.gmatch(p, '[0-9]+') do t[#t + 1] = tonumber(n) end
    return t
  end
  local last = redis.call('HGET', KEYS[1], 'last_source')
  if last then
    local a, b = parts(ARGV[14]), parts(last)
    for i = 1, 3 do
      if a[i] > b[i] then break end
      if a[i] < b[i] or i == 3 then return {'dup', '', '0'} end
    end
  end
  redis.call('HSET', KEYS[1], 'last_source', ARGV[14])
end
local now = tonumber(ARGV[2])
local entry = ARGV[3]
local case = hgetall(KEYS[6])
local continued = '0'
if ARGV[6] == 'contact.started' then
  if case['id'] and now - tonumber(case['updated_at'] or '0') <= tonumber(ARGV[7]) then
    continued = '1'
    case['contacts'] = tostring(tonumber(case['contacts'] or '0') + 1)
  else
    case = {id = ARGV[8], opened_at = ARGV[2], contacts = '1', last_agent = ''}
  end
  case['contact'] = ARGV[5]
  case['channel'] = ARGV[9]
  if ARGV[10] ~= '' then case['queue'] = ARGV[10] end
  case['skills'] = ARGV[11]
  local e = cjson.decode(entry)
  e['data']['case'] = case['id']
  e['data']['continued'] = (continued == '1')
  entry = cjson.encode(e)
end
if case['id'] then
  case['updated_at'] = ARGV[2]
  if ARGV[12] ~= '' then case['last_agent'] = ARGV[12] end
  local flat = {}
  for k, v in pairs(case) do
    flat[#flat + 1] = k
    flat[#flat + 1] = v
  end
  redis.call('HSET', KEYS[6], unpack(flat))
end
push(KEYS[2], entry, ARGV[4])
touch(KEYS[1], KEYS[3], ARGV[1], ARGV[2])
if ARGV[5] ~= '' then
  redis.call('SADD', KEYS[4], ARGV[5])
  redis.call('SET', KEYS[5], ARGV[1], 'EX', ARGV[13])
end
return {'ok', cjson.encode(case), continued}
