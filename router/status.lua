-- Read every target's live state and calls in use (unexpired leases) in one consistent snapshot.
--
-- KEYS[1] calls hash (unused); KEYS[2] targets hash; KEYS[2+i] target i's lease set
-- Returns, per target: limit, limit_src, state, state_src, breaker, reopen_in_ms, in_use
-- (false where Redis holds no value: the config's default is in force).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 3, #KEYS do
  local p = string.match(KEYS[i], '[^:]+$') .. ':'
  local h = redis.call('HMGET', KEYS[2], p .. 'limit', p .. 'limit_src', p .. 'state', p .. 'state_src',
                       p .. 'breaker', p .. 'reopen_at')
  for f = 1, 5 do out[#out + 1] = h[f] end
  out[#out + 1] = h[6] and math.max(0, tonumber(h[6]) - now) or false
  out[#out + 1] = redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf')
end
return out
