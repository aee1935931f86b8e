-- Record a trunk's call outcome in its circuit breaker; returns the breaker state after it.
--
-- KEYS[1] the trunk's state hash
-- ARGV: outcome ('failure' | 'success'), call_id ('' if unknown), failures, window_ms, cooldown_ms
-- closed: `failures` failures within `window_ms` open it for `cooldown_ms`.
-- open: decide.lua lets one probe call through after the cool-down (half_open).
-- half_open: the probe's failure reopens it, its success closes it; reports about other calls
-- (placed before it opened) are ignored.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key, outcome, call_id = KEYS[1], ARGV[1], ARGV[2]
local max, window, cooldown = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local h = redis.call('HMGET', key, 'breaker', 'probe', 'fails', 'fails_since')
local state = h[1] or 'closed'

local function open()
  redis.call('HSET', key, 'breaker', 'open', 'reopen_at', now + cooldown, 'fails', 0, 'fails_since', now)
  redis.call('HDEL', key, 'probe')
  return 'open'
end

if state == 'half_open' then
  if call_id ~= '' and call_id ~= h[2] then return state end
  if outcome == 'failure' then return open() end
  redis.call('HSET', key, 'breaker', 'closed', 'fails', 0)
  redis.call('HDEL', key, 'probe', 'reopen_at')
  return 'closed'
end
if state == 'open' or outcome == 'success' then return state end

local fails, since = tonumber(h[3] or 0), tonumber(h[4] or 0)
if now - since > window then fails, since = 0, now end
fails = fails + 1
if fails >= max then return open() end
redis.call('HSET', key, 'fails', fails, 'fails_since', since)
return 'closed'
