-- Extend a live call's lease by the TTL from now. Returns 1, or 0 when the lease is gone
-- (released, lapsed and purged, or dropped by the reconciler): the edge should then log it.
--
-- KEYS[1] calls hash; KEYS[2] targets hash (unused); KEYS[2+i] target i's lease set
-- ARGV[1] call_id; ARGV[2] ttl_ms

local call_id = ARGV[1]
local rec = redis.call('HGET', KEYS[1], call_id)
if not rec then return 0 end
local name = string.match(rec, '^[^|]*')
for i = 3, #KEYS do
  if string.match(KEYS[i], '[^:]+$') == name then
    if not redis.call('ZSCORE', KEYS[i], call_id) then return 0 end
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('ZADD', KEYS[i], now + tonumber(ARGV[2]), call_id)
    return 1
  end
end
return 0
