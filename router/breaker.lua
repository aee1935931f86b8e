-- Record a trunk's call outcome in its circuit breaker; returns the breaker state after it.
--
-- KEYS[1] targets hash
-- ARGV: trunk, outcome ('failure' | 'success'), call_id ('' if unknown), failures, window_ms, cooldown_ms
-- closed: `failures` failures within `window_ms` open it for `cooldown_ms`.
-- open: decide.lua lets one probe call through after the cool-down (half_open).
-- half_open: the probe's failure reopens it, its success closes it; reports about other calls
-- (placed before it opened) are ignored.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local key, p, outcome, call_id = KEYS[1], ARGV[1] .. ':', ARGV[2], ARGV[3]
local max, window, cooldown = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local h = redis.call('HMGET', key, p .. 'breaker', p .. 'probe', p .. 'fails', p .. 'fails_since')
local state = h[1] or 'closed'

local function open()
  redis.call('HSET', key, p .. 'breaker', 'open', p .. 'reopen_at', now + cooldown, p .. 'fails', 0,
             p .. 'fails_since', now)
  redis.call('HDEL', key, p .. 'probe')
  return 'open'
end

if state == 'half_open' then
  if call_id ~= '' and call_id ~= h[2] then return state end
  if outcome == 'failure' then return open() end
  redis.call('HSET', key, p .. 'breaker', 'closed', p .. 'fails', 0)
  redis.call('HDEL', key, p .. 'probe', p .. 'reopen_at')
  return 'closed'
end
if state == 'open' or outcome == 'success' then return state end

local fails, since = tonumber(h[3] or 0), tonumber(h[4] or 0)
if now - since > window then fails, since = 0, now end
fails = fails + 1
if fails >= max then return open() end
redis.call('HSET', key, p .. 'fails', fails, p .. 'fails_since', since)
return 'closed'
