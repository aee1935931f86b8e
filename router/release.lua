-- End a call's lease (hang-up). Idempotent: a second release, or one after expiry, returns 0.
--
-- KEYS[1] calls hash; KEYS[2] targets hash; KEYS[2+i] target i's lease set (every target of the tenant)
-- ARGV[1] call_id
-- A half-open breaker's probe call that ends without a failure reported first closes the breaker:
-- edges report dial failures before they release.

local call_id = ARGV[1]
local rec = redis.call('HGET', KEYS[1], call_id)
if not rec then return 0 end
redis.call('HDEL', KEYS[1], call_id)
local name = string.match(rec, '^[^|]*')
for i = 3, #KEYS do
  if string.match(KEYS[i], '[^:]+$') == name then
    redis.call('ZREM', KEYS[i], call_id)
    local p = name .. ':'
    local b = redis.call('HMGET', KEYS[2], p .. 'breaker', p .. 'probe')
    if b[1] == 'half_open' and b[2] == call_id then
      redis.call('HSET', KEYS[2], p .. 'breaker', 'closed', p .. 'fails', 0)
      redis.call('HDEL', KEYS[2], p .. 'probe', p .. 'reopen_at')
    end
    return 1
  end
end
return 1
