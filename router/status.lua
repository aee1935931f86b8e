-- Read every target's live state and calls in use (unexpired leases) in one consistent snapshot.
--
-- KEYS[2i], KEYS[2i+1] target i's state hash and lease set (KEYS[1], the calls hash, is unused)
-- Returns, per target: limit, limit_src, state, state_src, breaker, reopen_in_ms, in_use
-- (false where Redis holds no value: the config's default is in force).

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for i = 1, (#KEYS - 1) / 2 do
  local h = redis.call('HMGET', KEYS[2 * i], 'limit', 'limit_src', 'state', 'state_src', 'breaker', 'reopen_at')
  for f = 1, 5 do out[#out + 1] = h[f] end
  out[#out + 1] = h[6] and math.max(0, tonumber(h[6]) - now) or false
  out[#out + 1] = redis.call('ZCOUNT', KEYS[2 * i + 1], '(' .. now, '+inf')
end
return out
