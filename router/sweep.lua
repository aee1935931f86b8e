-- Drop leases by who took them: a restarted node's own, or those whose channel the PBX no longer has.
--
-- KEYS[1] calls hash; KEYS[2] targets hash (unused); KEYS[2+i] target i's lease set
-- ARGV: field (2 = node, 3 = pbx), value, grace_ms, live call ids...
-- A lease younger than grace_ms is kept even if its call is not live: the PBX's channel list may
-- have been taken before the call arrived. Returns the dropped call ids.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local field, value, grace = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local leases, live = {}, {}
for i = 3, #KEYS do leases[string.match(KEYS[i], '[^:]+$')] = KEYS[i] end
for j = 4, #ARGV do live[ARGV[j]] = true end

local function split(s)
  local parts, start = {}, 1
  while true do
    local bar = string.find(s, '|', start, true)
    if not bar then parts[#parts + 1] = string.sub(s, start); return parts end
    parts[#parts + 1] = string.sub(s, start, bar - 1)
    start = bar + 1
  end
end

local dropped = {}
local all = redis.call('HGETALL', KEYS[1])
for k = 1, #all, 2 do
  local id, parts = all[k], split(all[k + 1])
  if parts[field] == value and not live[id] and now - tonumber(parts[4] or 0) >= grace then
    redis.call('HDEL', KEYS[1], id)
    if leases[parts[1]] then redis.call('ZREM', leases[parts[1]], id) end
    dropped[#dropped + 1] = id
  end
end
return dropped
