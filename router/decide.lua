-- Route one call, atomically: purge lapsed leases, pick a trunk, else a diversion, else the hard phones.
--
-- KEYS[1]    calls hash: call id -> "target|node|pbx|started_ms"
-- KEYS[2]    targets hash: "<target>:<field>" -> live limit, state, breaker... (written by load.lua)
-- KEYS[2+i]  target i's lease set (call id scored by expiry in ms); the target's name is the key's last part.
--            Order: the queue's trunks by priority, then the diversions by level, then the hard-phone group.
-- ARGV       call_id, node, pbx, ttl_ms, n_trunks, then per trunk: rank, weight
-- Returns {i, level, reason, probe}: the chosen target's index, degradation level (0-3), reason, 1 for a
-- breaker probe; or {0, 0, 'reload', 0} when the targets hash lacks a target (Redis lost it: load, retry).
-- The clock is Redis TIME, so every node agrees.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local calls, targets, call_id = KEYS[1], KEYS[2], ARGV[1]
local ttl, n_trunks, n = tonumber(ARGV[4]), tonumber(ARGV[5]), #KEYS - 2
local cut = #string.match(KEYS[3], '^(.*:)')  -- every lease key is "<prefix>:<target>"
local names = {}
local function name(i)
  names[i] = names[i] or string.sub(KEYS[2 + i], cut + 1)
  return names[i]
end

-- A target's live settings (limit, state, breaker, reopen_at, cooldown_ms), read only when it is
-- considered; false when Redis lost them (the caller loads the config again and retries).
local function settings(i)
  local p = name(i) .. ':'
  local v = redis.call('HMGET', targets, p .. 'limit', p .. 'state', p .. 'breaker', p .. 'reopen_at', p .. 'cooldown_ms')
  if not v[1] or not v[2] then return false end
  return tonumber(v[1]), v[2], v[3] or 'closed', tonumber(v[4] or 0), tonumber(v[5] or 0)
end
local RELOAD = {0, 0, 'reload', 0}

-- Drop lapsed leases (lost hang-ups); the calls hash entry goes only if it still names this target.
local function in_use(i)
  local z, prefix = KEYS[2 + i], name(i) .. '|'
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

-- Lease target i to the call; or, if the call already holds a lease (the edge asked twice), renew that
-- one and return its index: same answer, no second lease.
local function take(i)
  local record = name(i) .. '|' .. ARGV[2] .. '|' .. ARGV[3] .. '|' .. now
  if redis.call('HSETNX', calls, call_id, record) == 0 then
    local holder = string.match(redis.call('HGET', calls, call_id), '^[^|]*')
    for j = 1, n do
      if name(j) == holder and redis.call('ZSCORE', KEYS[2 + j], call_id) then
        redis.call('ZADD', KEYS[2 + j], now + ttl, call_id)
        return j
      end
    end
    redis.call('HSET', calls, call_id, record)
  end
  redis.call('ZADD', KEYS[2 + i], now + ttl, call_id)
  return nil
end
local function repeated(j) return {j, 0, 'repeat', 0} end

-- Trunks, one priority tier at a time; in a tier the least load per unit of weight wins.
local level, reason = 0, 'ok'
local i = 1
while i <= n_trunks do
  local rank, best, best_used, best_w, best_cooldown = ARGV[4 + 2 * i], nil, 0, 1, nil
  local tier_level, tier_reason = 0, 'ok'
  while i <= n_trunks and ARGV[4 + 2 * i] == rank do
    local limit, state, breaker, reopen_at, cooldown = settings(i)
    if not limit then return RELOAD end
    if state == 'up' then
      local used = in_use(i)
      local probe = breaker ~= 'closed'
      if used >= limit then
        tier_level, tier_reason = 2, 'overflow'
      elseif probe and now < reopen_at then
        if tier_level < 1 then tier_level, tier_reason = 1, 'breaker_open' end
      else
        local w = tonumber(ARGV[5 + 2 * i])
        if best == nil or (used + 1) * best_w < (best_used + 1) * w then
          best, best_used, best_w, best_cooldown = i, used, w, probe and cooldown or nil
        end
      end
    end
    i = i + 1
  end
  if best then
    local held = take(best)
    if held then return repeated(held) end
    if best_cooldown then
      local p = name(best) .. ':'
      redis.call('HSET', targets, p .. 'breaker', 'half_open', p .. 'reopen_at', now + best_cooldown, p .. 'probe', call_id)
    end
    return {best, level, reason, best_cooldown and 1 or 0}
  end
  if tier_level > level then level, reason = tier_level, tier_reason end
end

-- Every trunk is full, down or broken: the diversions by level, each up to its limit (-1: none).
for d = n_trunks + 1, n - 1 do
  local limit, state = settings(d)
  if not limit then return RELOAD end
  if state == 'up' and (limit < 0 or in_use(d) < limit) then
    local held = take(d)
    return held and repeated(held) or {d, 2, 'no_trunk', 0}
  end
end

local held = take(n)
return held and repeated(held) or {n, 3, 'all_full', 0}
