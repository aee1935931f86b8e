-- Put the deployed config's limits and states into Redis (every node calls it on start).
--
-- KEYS[1] meta hash; KEYS[2] targets hash
-- ARGV: digest, force (1/0), then per target: name, limit (-1 = none), state, cooldown_ms
-- A new digest (or force) is a deploy: config values replace any live change. The same digest
-- (a node restarting) keeps live changes and only restores values Redis lost. Targets the previous
-- config had and this one lacks lose their fields here; their lease sets are the caller's to delete.
-- Returns {1 if applied as a deploy, the names of the dropped targets joined by ','}.

local meta, targets, digest = KEYS[1], KEYS[2], ARGV[1]
local old = redis.call('HMGET', meta, 'digest', 'targets')
local deploy = ARGV[2] == '1' or old[1] ~= digest
local names, current = {}, {}
for a = 3, #ARGV, 4 do
  local name, limit, state = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local p = name .. ':'
  names[#names + 1], current[name] = name, true
  redis.call('HSET', targets, p .. 'cooldown_ms', ARGV[a + 3])
  if deploy then
    redis.call('HSET', targets, p .. 'limit', limit, p .. 'limit_src', 'config', p .. 'state', state,
               p .. 'state_src', 'config')
  else
    if redis.call('HSETNX', targets, p .. 'limit', limit) == 1 then redis.call('HSET', targets, p .. 'limit_src', 'config') end
    if redis.call('HSETNX', targets, p .. 'state', state) == 1 then redis.call('HSET', targets, p .. 'state_src', 'config') end
  end
end
local dropped = {}
for name in string.gmatch(old[2] or '', '[^,]+') do
  if not current[name] then
    local p = name .. ':'
    redis.call('HDEL', targets, p .. 'limit', p .. 'limit_src', p .. 'state', p .. 'state_src', p .. 'breaker',
               p .. 'reopen_at', p .. 'probe', p .. 'fails', p .. 'fails_since', p .. 'cooldown_ms')
    dropped[#dropped + 1] = name
  end
end
redis.call('HSET', meta, 'digest', digest, 'targets', table.concat(names, ','))
return {deploy and 1 or 0, table.concat(dropped, ',')}
