-- Route one call, atomically: purge lapsed leases, pick a trunk, else a diversion, else the hard phones.
--
-- KEYS[1]        calls hash (call id -> "target|node|pbx|started_ms")
-- KEYS[2i]       target i's state hash (live limit/state, breaker)
-- KEYS[2i+1]     target i's lease set (call id scored by expiry, ms)
-- ARGV[1..6]     call_id, node, pbx, ttl_ms, n_trunks, n_diversions
-- ARGV[6+6(i-1)+1..6]  target i: name, rank, weight, config limit (-1 = none), config state, cooldown_ms
-- Targets come in order: trunks by priority, diversions by level, then the hard-phone group.
-- Returns {i, level, reason, probe}: the chosen target's index, degradation level (0-3), reason, 1 if a
-- breaker probe. The clock is Redis TIME so every node agrees.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local calls, call_id, node, pbx = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local ttl, n_trunks, n_div = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local n = n_trunks + n_div + 1

local function arg(i, f) return ARGV[6 + (i - 1) * 6 + f] end
local function hash(i) return KEYS[2 * i] end
local function leases(i) return KEYS[2 * i + 1] end

-- A repeated request for a call that still holds a lease gets the same target, renewed.
local held = redis.call('HGET', calls, call_id)
if held then
  local name = string.match(held, '^([^|]*)')
  for i = 1, n do
    if arg(i, 1) == name and redis.call('ZSCORE', leases(i), call_id) then
      redis.call('ZADD', leases(i), now + ttl, call_id)
      return {i, 0, 'repeat', 0}
    end
  end
end

-- Drop lapsed leases (lost hang-ups); the calls hash entry goes only if it still names this target.
local function in_use(i)
  local z, prefix = leases(i), arg(i, 1) .. '|'
  local lapsed = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #lapsed > 0 then
    redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
    for _, id in ipairs(lapsed) do
      local rec = redis.call('HGET', calls, id)
      if rec and string.sub(rec, 1, #prefix) == prefix then redis.call('HDEL', calls, id) end
    end
  end
  return redis.call('ZCARD', z)
end

local function settings(i)
  local h = redis.call('HMGET', hash(i), 'limit', 'state', 'breaker', 'reopen_at')
  return tonumber(h[1] or arg(i, 4)), h[2] or arg(i, 5), h[3] or 'closed', tonumber(h[4] or 0)
end

local function take(i)
  redis.call('ZADD', leases(i), now + ttl, call_id)
  redis.call('HSET', calls, call_id, arg(i, 1) .. '|' .. node .. '|' .. pbx .. '|' .. now)
end

-- Trunks, one priority tier at a time; in a tier the least load per unit of weight wins.
local level, reason = 0, 'ok'
local i = 1
while i <= n_trunks do
  local rank, best, best_used, best_w, best_probe = arg(i, 2), nil, 0, 1, false
  local tier_level, tier_reason = 0, 'ok'
  while i <= n_trunks and arg(i, 2) == rank do
    local limit, state, breaker, reopen_at = settings(i)
    if state == 'up' then
      local used = in_use(i)
      local probe = breaker ~= 'closed'
      if limit >= 0 and used >= limit then
        tier_level, tier_reason = 2, 'overflow'
      elseif probe and now < reopen_at then
        if tier_level < 1 then tier_level, tier_reason = 1, 'breaker_open' end
      else
        local w = tonumber(arg(i, 3))
        if best == nil or (used + 1) * best_w < (best_used + 1) * w then
          best, best_used, best_w, best_probe = i, used, w, probe
        end
      end
    end
    i = i + 1
  end
  if best then
    take(best)
    if best_probe then
      redis.call('HSET', hash(best), 'breaker', 'half_open', 'reopen_at', now + tonumber(arg(best, 6)), 'probe', call_id)
    end
    return {best, level, reason, best_probe and 1 or 0}
  end
  if tier_level > level then level, reason = tier_level, tier_reason end
end

-- Every trunk is full, down or broken: the diversions by level, each up to its capacity.
for d = n_trunks + 1, n_trunks + n_div do
  local limit, state = settings(d)
  if state == 'up' and (limit < 0 or in_use(d) < limit) then
    take(d)
    return {d, 2, 'no_trunk', 0}
  end
end

take(n)
return {n, 3, 'all_full', 0}
