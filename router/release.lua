-- End a call's lease (hang-up). Idempotent: a second release, or one after expiry, returns 0.
--
-- KEYS[1] calls hash; KEYS[2i], KEYS[2i+1] target i's state hash and lease set
-- ARGV[1] call_id; ARGV[1+i] target i's name
-- A half-open breaker's probe call that ends without a failure reported first closes the breaker:
-- edges report dial failures before they release.

local call_id = ARGV[1]
local rec = redis.call('HGET', KEYS[1], call_id)
if not rec then return 0 end
redis.call('HDEL', KEYS[1], call_id)
local name = string.match(rec, '^([^|]*)')
for i = 1, #ARGV - 1 do
  if ARGV[1 + i] == name then
    redis.call('ZREM', KEYS[2 * i + 1], call_id)
    local b = redis.call('HMGET', KEYS[2 * i], 'breaker', 'probe')
    if b[1] == 'half_open' and b[2] == call_id then
      redis.call('HSET', KEYS[2 * i], 'breaker', 'closed', 'fails', 0)
      redis.call('HDEL', KEYS[2 * i], 'probe', 'reopen_at')
    end
    return 1
  end
end
return 1
